/// The page, its script and its style sheet, compiled into the binary (no file is read at run time
/// and nothing is ever loaded from elsewhere).
enum ReviewAssets {
    static let page = String(decoding: PackageResources.review_html, as: UTF8.self)
    static let script = String(decoding: PackageResources.review_js, as: UTF8.self)
    static let style = String(decoding: PackageResources.review_css, as: UTF8.self)
}
