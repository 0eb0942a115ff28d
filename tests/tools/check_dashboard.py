#!/usr/bin/env python3
"""Checks a page rendered by src/server/dashboard.c (netsec's /home view).

    check_dashboard.py PAGE.html [--expect ID,ID,...]

The page is read as strict UTF-8 and walked with html.parser: every element
that is not void must be closed in order, the head must carry a charset, a
viewport, a 30 s refresh and a non-empty <title>, and nothing may load from
elsewhere or run (no <script>, <link>, <img>, <iframe>, no src/href/action
pointing anywhere, no url() or @import in CSS, no on* attributes).  Every
'&' must start a character reference.  Each <svg> is cut out of the source as
written and parsed on its own with xml.etree, so it must be well-formed XML;
it must have an id, role="img", a non-empty aria-label and a <title> first.

It prints one JSON line: {"file", "bytes", "charts": [ids in page order],
"problems": [...]}.  With --expect, the chart ids found must be exactly the
ones listed (an empty list: none).  Exit status 0 when all holds, else 1.
Standard library only.
"""
import html.parser
import json
import re
import sys
import xml.etree.ElementTree as ET

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "source", "track", "wbr"}
FORBIDDEN_TAGS = {"script", "link", "img", "iframe", "object", "embed", "frame",
                  "frameset", "base", "audio", "video", "source", "form", "image", "use",
                  "foreignobject"}
URL_ATTRS = {"src", "href", "xlink:href", "action", "formaction", "data", "poster",
             "srcset", "background"}
SVG_NS = "{http://www.w3.org/2000/svg}"
CHARREF = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);")


class PageChecker(html.parser.HTMLParser):
    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.text = text
        self.line_starts = [0]
        for m in re.finditer("\n", text):
            self.line_starts.append(m.end())
        self.stack = []
        self.problems = []
        self.svgs = []          # (start offset, end offset)
        self.svg_start = None
        self.svg_depth = 0
        self.titles = []        # text of <title> elements in <head>
        self.in_head_title = False
        self.metas = []
        self.in_style = False
        self.style_text = []

    def source_offset(self):
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def problem(self, msg):
        line, col = self.getpos()
        self.problems.append("line %d col %d: %s" % (line, col + 1, msg))

    def check_attrs(self, tag, attrs):
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problem("<%s> has an event handler attribute %s" % (tag, name))
            if name in URL_ATTRS:
                self.problem("<%s> refers to a resource: %s=%r" % (tag, name, value))
            if name == "style" and re.search(r"url\s*\(|@import|expression\s*\(",
                                             value, re.I):
                self.problem("<%s> style loads something: %r" % (tag, value))
            if "javascript:" in value.lower():
                self.problem("<%s> %s holds javascript:" % (tag, name))

    def handle_starttag(self, tag, attrs):
        self.start(tag, attrs, closed=False)

    def handle_startendtag(self, tag, attrs):
        self.start(tag, attrs, closed=True)

    def start(self, tag, attrs, closed):
        if tag in FORBIDDEN_TAGS:
            self.problem("forbidden element <%s>" % tag)
        self.check_attrs(tag, attrs)
        if tag == "meta":
            self.metas.append(dict(attrs))
        if tag == "svg":
            if self.svg_depth == 0:
                self.svg_start = self.source_offset()
            self.svg_depth += 1
        if tag == "title" and self.stack and self.stack[-1] == "head":
            self.in_head_title = True
            self.titles.append("")
        if tag == "style":
            self.in_style = True
        if tag in VOID or closed:
            if closed and tag == "svg":
                self.end_svg()
            return
        self.stack.append(tag)

    def end_svg(self):
        self.svg_depth -= 1
        if self.svg_depth == 0 and self.svg_start is not None:
            end = self.text.index(">", self.source_offset()) + 1
            self.svgs.append((self.svg_start, end))
            self.svg_start = None

    def handle_endtag(self, tag):
        if tag in VOID:
            self.problem("end tag for void element </%s>" % tag)
            return
        if not self.stack:
            self.problem("</%s> with nothing open" % tag)
            return
        if self.stack[-1] != tag:
            self.problem("</%s> closes <%s>" % (tag, self.stack[-1]))
            if tag in self.stack:
                while self.stack and self.stack[-1] != tag:
                    self.stack.pop()
            else:
                return
        self.stack.pop()
        if tag == "svg":
            self.end_svg()
        if tag == "title":
            self.in_head_title = False
        if tag == "style":
            self.in_style = False

    def handle_data(self, data):
        if self.in_head_title:
            self.titles[-1] += data
        if self.in_style:
            self.style_text.append(data)

    def handle_pi(self, data):
        self.problem("processing instruction <?%s>" % data)


def check_svg(source, index, problems):
    """Parses one <svg> as XML; returns its id or None."""
    try:
        root = ET.fromstring(source)
    except ET.ParseError as e:
        problems.append("svg #%d is not well-formed XML: %s" % (index + 1, e))
        return None
    if root.tag not in (SVG_NS + "svg", "svg"):
        problems.append("svg #%d: root element is %s" % (index + 1, root.tag))
    chart_id = root.get("id")
    where = "svg %s" % (chart_id or "#%d" % (index + 1))
    if not chart_id:
        problems.append("%s has no id" % where)
    if root.get("role") != "img":
        problems.append('%s lacks role="img"' % where)
    if not (root.get("aria-label") or "").strip():
        problems.append("%s lacks an aria-label" % where)
    if not root.get("viewBox"):
        problems.append("%s lacks a viewBox" % where)
    children = list(root)
    if not children or children[0].tag not in (SVG_NS + "title", "title") \
            or not (children[0].text or "").strip():
        problems.append("%s does not start with a non-empty <title>" % where)
    for el in root.iter():
        for name, value in el.attrib.items():
            if name.endswith("href") or name.startswith("on"):
                problems.append("%s: <%s> has %s=%r" % (where, el.tag, name, value))
    return chart_id


def check_page(path):
    problems = []
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return {"file": path, "bytes": len(raw), "charts": [],
                "problems": ["not UTF-8: %s" % e]}
    if not text.startswith("<!DOCTYPE html>"):
        problems.append("does not start with <!DOCTYPE html>")
    for m in re.finditer("&", text):
        if not CHARREF.match(text, m.start()):
            line = text.count("\n", 0, m.start()) + 1
            problems.append("line %d: bare '&': %r" % (line, text[m.start():m.start() + 20]))

    p = PageChecker(text)
    p.feed(text)
    p.close()
    problems += p.problems
    if p.stack:
        problems.append("elements left open at the end: %s" % " ".join(p.stack))

    if len(p.titles) != 1 or not p.titles[0].strip():
        problems.append("the head needs exactly one non-empty <title>")
    metas = p.metas
    if not any((m.get("charset") or "").lower() == "utf-8" for m in metas):
        problems.append('no <meta charset="utf-8">')
    if not any(m.get("name") == "viewport" and "width=device-width" in (m.get("content") or "")
               for m in metas):
        problems.append("no <meta name=viewport> with width=device-width")
    if not any((m.get("http-equiv") or "").lower() == "refresh" and m.get("content") == "30"
               for m in metas):
        problems.append('no <meta http-equiv="refresh" content="30">')
    css = "".join(p.style_text)
    if re.search(r"url\s*\(|@import|@font-face", css, re.I):
        problems.append("the CSS loads something (url(), @import or @font-face)")

    charts = []
    for i, (start, end) in enumerate(p.svgs):
        chart_id = check_svg(text[start:end], i, problems)
        if chart_id:
            if chart_id in charts:
                problems.append("chart id %s appears twice" % chart_id)
            charts.append(chart_id)
    return {"file": path, "bytes": len(raw), "charts": charts, "problems": problems}


def main(argv):
    args = argv[1:]
    expect = None
    if len(args) == 3 and args[1] == "--expect":
        expect = [x for x in args[2].split(",") if x]
        args = args[:1]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    report = check_page(args[0])
    if expect is not None and report["charts"] != expect:
        report["problems"].append("charts %s, expected %s" % (report["charts"], expect))
    print(json.dumps(report))
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
