import AnkiScanner
import Testing
@testable import AnkiReview

@Suite("Card HTML sanitizer")
struct SanitizerTests {
    let sanitizer = HTMLSanitizer()

    @Test("scripts, event handlers and javascript: links are removed", arguments: [
        "<script>alert(1)</script>x",
        "<SCRIPT type=text/javascript>alert(1)</SCRIPT >x",
        "<img src=x onerror=alert(1)>x",
        "<div onclick=\"alert(1)\">x</div>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<a href=\"java&#115;cript:alert(1)\">x</a>",
        "<svg onload=alert(1)><script>alert(1)</script></svg>x",
        "<iframe src=\"javascript:alert(1)\"></iframe>x",
        "<object data=\"x.swf\"></object>x",
        "<body onload=alert(1)>x",
        "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>x",
        "<style>@import url(http://evil/x.css)</style>x",
        "<form action=\"http://evil/\"><button formaction=\"javascript:alert(1)\">x</button></form>",
        "<meta http-equiv=refresh content=\"0;url=http://evil/\">x",
        "<base href=\"http://evil/\">x",
        "<!--<script>alert(1)</script>-->x",
        "<scr<script>ipt>alert(1)</script>x",
    ])
    func neutralized(_ html: String) {
        let clean = sanitizer.sanitize(html).lowercased()
        for forbidden in ["<script", "onerror", "onload", "onclick", "javascript", "<iframe", "<object", "<svg", "<img",
                          "<form", "<meta", "<base", "<style", "href", "src=", "action", "http://evil"] {
            #expect(!clean.contains(forbidden), "\(forbidden) survived in \(clean)")
        }
        #expect(clean.contains("x"))
    }

    @Test("remote images become placeholders without their address; local media names are shown")
    func placeholders() {
        let remote = sanitizer.sanitize("<img src=\"https://tracker.example/p.png\">")
        #expect(remote.contains("remote image (not loaded)"))
        #expect(!remote.contains("tracker"))
        let local = sanitizer.sanitize("<img src=\"dog.jpg\">")
        #expect(local.contains("[image: dog.jpg]"))
        #expect(!local.contains("<img"))
    }

    @Test("formatting survives; styles keep only harmless properties")
    func formatting() {
        #expect(sanitizer.sanitize("<b>bold</b> <i>it</i><br>") == "<b>bold</b> <i>it</i><br>")
        let styled = sanitizer.sanitize("<span style=\"color: red; background-image: url(http://x/y.png); position: fixed\">r</span>")
        #expect(styled == "<span style=\"color: red\">r</span>")
        #expect(sanitizer.sanitize("<div class=\"word\" id=\"submit\">w</div>") == "<div class=\"word\">w</div>")
    }

    @Test("unbalanced markup cannot close the page's own elements")
    func balanced() {
        #expect(sanitizer.sanitize("</div></section><b>x") == "<b>x</b>")
        #expect(sanitizer.sanitize("<div><b>x</div>y") == "<div><b>x</b></div>y")
        #expect(sanitizer.sanitize("a < b > c") == "a &lt; b &gt; c")
    }

    @Test("attribute values cannot be broken out of")
    func attributes() {
        let clean = sanitizer.sanitize("<span title='a\" onmouseover=\"alert(1)'>x</span>")
        #expect(clean == "<span title=\"a&quot; onmouseover=&quot;alert(1)\">x</span>")
    }

    @Test("note-type CSS loses imports, fonts and every url()")
    func css() {
        let css = sanitizer.sanitizeCSS("""
            @import url(http://evil/a.css);
            @font-face { font-family: x; src: url(http://evil/f.woff); }
            .card { background: url("http://evil/bg.png") no-repeat; color: red; }
            .b { background-image: image-set("http://evil/i.png" 1x); }
            """)
        #expect(!css.contains("evil"))
        #expect(!css.lowercased().contains("url("))
        #expect(!css.contains("@import"))
        #expect(!css.contains("@font-face"))
        #expect(css.contains("color: red"))
    }
}
