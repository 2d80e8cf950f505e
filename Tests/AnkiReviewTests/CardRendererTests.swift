@testable import AnkiReader
import AnkiScanner
import Testing
@testable import AnkiReview

@Suite("Card rendering through the note type's templates")
struct CardRendererTests {
    func noteType(kind: NoteType.Kind = .normal, fields: [String], q: String, a: String) -> NoteType {
        NoteType(id: 1, name: "T", kind: kind,
                 fields: fields.enumerated().map { NoteType.Field(ord: $0.offset, name: $0.element) },
                 templates: [NoteType.Template(ord: 0, name: "Card 1", questionFormat: q, answerFormat: a,
                                               browserQuestionFormat: "", browserAnswerFormat: "")],
                 css: "", sortFieldIndex: 0, latexPre: "", latexPost: "")
    }

    func render(_ type: NoteType, _ fields: [String], findings: [Finding] = [], ord: Int = 0) -> CardRenderer.Rendered {
        CardRenderer().render(noteType: type, template: type.templates[0], fields: fields, findings: findings,
                              context: .init(noteTypeName: "T", templateName: "Card 1", deckName: "Deck::Sub",
                                             tags: ["a", "b"], ord: ord))
    }

    @Test("fields, FrontSide, sections and special fields")
    func basics() {
        let type = noteType(fields: ["Front", "Back", "Extra"],
                            q: "<div>{{Front}}</div>{{#Extra}}<i>{{Extra}}</i>{{/Extra}}{{^Extra}}none{{/Extra}}",
                            a: "{{FrontSide}}<hr id=answer>{{Back}} {{Subdeck}} {{Tags}} {{text:Back}}")
        let full = render(type, ["Hund", "<b>dog</b>", "note"])
        #expect(full.question == "<div>Hund</div><i>note</i>")
        #expect(full.answer == "<div>Hund</div><i>note</i><hr><b>dog</b> Sub a b dog")
        let empty = render(type, ["Hund", "dog", "<br>"])
        #expect(empty.question == "<div>Hund</div>none")
    }

    @Test("cloze deletions: the active one hidden on the front, shown on the back; hints; nesting")
    func cloze() {
        let type = noteType(kind: .cloze, fields: ["Text"], q: "{{cloze:Text}}", a: "{{cloze:Text}}")
        let text = "{{c1::Berlin::city}} is in {{c2::Germany}}"
        let first = render(type, [text], ord: 0)
        #expect(first.question == "<span class=\"cloze\">[city]</span> is in Germany")
        #expect(first.answer == "<span class=\"cloze\">Berlin</span> is in Germany")
        let second = render(type, [text], ord: 1)
        #expect(second.question == "Berlin is in <span class=\"cloze\">[...]</span>")
        let nested = render(type, ["{{c1::a {{c2::b}} c}}"], ord: 1)
        #expect(nested.question == "a <span class=\"cloze\">[...]</span> c")
    }

    @Test("findings become marks with a tooltip naming the detector, never inside attributes")
    func findings() {
        let type = noteType(fields: ["Front"], q: "{{Front}}", a: "{{FrontSide}}")
        let field = "<span title=\"mail x@y.de\">mail x@y.de</span>"
        let bytes = Array(field.utf8)
        // Two findings: one inside the attribute value, one in the text.
        let inAttribute = Finding(kind: "email", category: .pii, text: "x@y.de", field: 0, start: 18, end: 24,
                                  score: 0.95, detector: "email")
        let textStart = field.utf8.count - "x@y.de</span>".utf8.count
        let inText = Finding(kind: "email", category: .pii, text: "x@y.de", field: 0, start: textStart,
                             end: textStart + 6, score: 0.95, detector: "email")
        #expect(String(decoding: bytes[18..<24], as: UTF8.self) == "x@y.de")
        let rendered = render(type, [field], findings: [inAttribute, inText])
        #expect(rendered.question.hasPrefix("<span title=\"mail x@y.de\">mail <mark class=\"finding kind-email pii\""))
        #expect(rendered.question.contains("detector: email"))
        #expect(rendered.question.hasSuffix(">x@y.de</mark></span>"))
        #expect(!rendered.question.unicodeScalars.contains { (0xFDD0...0xFDD2).contains($0.value) })
    }

    @Test("templates carrying scripts are sanitized too; sounds become placeholders")
    func hostileTemplate() {
        let type = noteType(fields: ["Front"], q: "<script>alert(1)</script>{{Front}}<img src=\"http://x/t.png\">",
                            a: "{{FrontSide}}")
        let rendered = render(type, ["Hund [sound:hund.mp3]"])
        #expect(!rendered.question.contains("<script"))
        #expect(!rendered.question.contains("http://x"))
        #expect(rendered.question.contains("[sound: hund.mp3]"))
    }
}
