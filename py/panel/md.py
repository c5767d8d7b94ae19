# Markdown to DOM in the page (MicroPython under PyScript; not imported by the tests).
#
# Pipeline, for one block of model text at a time (panel.blocks cuts replies into blocks):
#   protect_math (panel.mdprep)  ->  marked.parse  ->  restore_math  ->
#   DOMPurify.sanitize (to a fragment)  ->  insert  ->  per element:
#   links get target/rel, code gets highlight.js (re-sanitized) and a copy button,
#   math spans get KaTeX (re-sanitized).
# Model text never reaches the DOM without DOMPurify. Raw HTML in the markdown is shown
# as text (marked's html renderer escapes it), images become plain links (no request
# leaves the panel by itself), and only http(s)/mailto hrefs survive.
# Without the vendored libraries (an old build) text is shown as plain text.
#
# marked and DOMPurify load with the page (deferred: they never block its first paint);
# highlight.js and KaTeX (~400 kB of JavaScript the browser must parse on every open)
# load on first need. Until one has loaded, code shows without colours and a formula as
# its TeX, marked ``data-pending``; when it arrives, every pending element still in the
# page is upgraded in place, so no message has to be rendered again.

from pyscript import document, window
from pyscript.ffi import create_proxy, to_js

from panel.mdprep import MAX_QUOTE_DEPTH, escape_html, protect_math, quote_depth, restore_math

MAX_HIGHLIGHT = 40000  # characters: longer code is shown without colours
MAX_MATH = 4000  # characters of TeX in one formula

FORBID_TAGS = [
    "style", "script", "form", "input", "button", "textarea", "select", "option", "iframe", "frame",
    "frameset", "object", "embed", "img", "svg", "math", "video", "audio", "source", "picture", "link",
    "meta", "base", "dialog", "template", "noscript",
]
FORBID_ATTR = ["style", "id", "name", "srcset", "formaction", "action", "target"]


# Loaded on first need: global name -> (script, stylesheets as (href, media)).
LAZY = {
    "hljs": ("vendor/highlight/highlight.min.js",
             (("vendor/highlight/styles/github.min.css", "(prefers-color-scheme: light)"),
              ("vendor/highlight/styles/github-dark.min.css", "(prefers-color-scheme: dark)"))),
    "katex": ("vendor/katex/katex.min.js", (("vendor/katex/katex.min.css", ""),)),
}


def _lib(name):
    try:
        lib = getattr(window, name)
    except AttributeError:
        return None
    return None if lib is None or str(type(lib)) == "<class 'JsUndefined'>" else lib


def _html_token(token):
    text = escape_html(token.text or "")
    return "<p>" + text + "</p>" if token.block else text


def _image_token(token):
    label = token.text or token.href or "image"
    return '<a href="' + escape_html(token.href or "") + '">[image: ' + escape_html(label) + "]</a>"


class Markdown:
    def __init__(self):
        self.marked = _lib("marked")
        self.purify = _lib("DOMPurify")
        self.hljs = _lib("hljs")
        self.katex = _lib("katex")
        self._loading = {}  # lazy library name -> its script element, while it loads
        self.ok = self.marked is not None and self.purify is not None
        self._proxies = []
        if not self.ok:
            return
        html = create_proxy(_html_token)
        image = create_proxy(_image_token)
        self._proxies = [html, image]
        self.marked.use(to_js({"gfm": True, "breaks": False, "renderer": {"html": html, "image": image}}))
        uri = window.RegExp.new("^(?:https?:|mailto:)", "i")
        self.md_cfg = to_js({
            "USE_PROFILES": {"html": True},
            "FORBID_TAGS": FORBID_TAGS,
            "FORBID_ATTR": FORBID_ATTR,
            "ALLOWED_URI_REGEXP": uri,
            # DOMPurify tests every attribute outside its URI-safe list against that
            # pattern: table alignment and a list's first number are not URIs.
            "ADD_URI_SAFE_ATTR": ["align", "start"],
            "ALLOW_DATA_ATTR": True,
            "RETURN_DOM_FRAGMENT": True,
        })
        self.code_cfg = to_js(
            {"ALLOWED_TAGS": ["span"], "ALLOWED_ATTR": ["class"], "RETURN_DOM_FRAGMENT": True}
        )
        # KaTeX draws with inline styles, SVG and MathML (for screen readers): DOMPurify's
        # default profile, which keeps all three (its MathML allow-list drops <semantics>
        # and <annotation> but keeps their content).
        self.math_cfg = to_js({
            "FORBID_TAGS": ["script", "style", "a", "form", "img", "iframe", "object", "embed", "image",
                            "use", "foreignObject"],
            "RETURN_DOM_FRAGMENT": True,
        })
        self.katex_opts = to_js({"throwOnError": False, "trust": False, "strict": "ignore", "maxSize": 5,
                                 "maxExpand": 200, "output": "htmlAndMathml"})
        self.katex_display = to_js({"throwOnError": False, "trust": False, "strict": "ignore", "maxSize": 5,
                                    "maxExpand": 200, "output": "htmlAndMathml", "displayMode": True})

    def _want(self, name):
        """Start loading lazy library ``name`` (once); it upgrades pending elements when it arrives."""
        if name in self._loading:
            return
        src, sheets = LAZY[name]
        for href, media in sheets:
            link = document.createElement("link")
            link.rel = "stylesheet"
            link.href = href
            if media:
                link.media = media
            document.head.append(link)
        script = document.createElement("script")
        script.src = src
        loaded = create_proxy(lambda _e: self._arrived(name))
        self._proxies.append(loaded)
        script.addEventListener("load", loaded)
        self._loading[name] = script
        document.head.append(script)

    def _arrived(self, name):
        lib = _lib(name)
        if lib is None:
            return
        if name == "hljs":
            self.hljs = lib
            pending = document.querySelectorAll("code[data-pending]")
            for i in range(pending.length):
                code = pending.item(i)
                code.removeAttribute("data-pending")
                self._highlight(code, code.getAttribute("data-lang") or "", code.textContent)
        else:
            self.katex = lib
            pending = document.querySelectorAll("span.sp-math[data-pending]")
            for i in range(pending.length):
                span = pending.item(i)
                span.removeAttribute("data-pending")
                self._katex(span, span.textContent, span.classList.contains("display"))

    def render(self, target, src, highlight=True):
        """Replace ``target``'s children with ``src`` rendered (sanitized); plain text if that fails."""
        if not self.ok or quote_depth(src) > MAX_QUOTE_DEPTH:
            target.textContent = src
            return
        try:
            self._render(target, src, highlight)
        except Exception as exc:  # e.g. marked's stack overflow on 10k nested quotes
            window.console.warn("markdown failed, shown as text: " + str(exc)[:200])
            target.textContent = src

    def _render(self, target, src, highlight):
        text, maths = protect_math(src)
        html = restore_math(self.marked.parse(text), len(maths))
        target.replaceChildren(self.purify.sanitize(html, self.md_cfg))
        links = target.querySelectorAll("a")
        for i in range(links.length):
            a = links.item(i)
            if a.hasAttribute("href"):
                a.setAttribute("target", "_blank")
                a.setAttribute("rel", "noopener noreferrer")
        tables = target.querySelectorAll("table")
        for i in range(tables.length):
            # A wide table scrolls sideways in its own box instead of squeezing its cells.
            table = tables.item(i)
            wrap = document.createElement("div")
            wrap.className = "table-wrap"
            table.parentNode.insertBefore(wrap, table)
            wrap.append(table)
        codes = target.querySelectorAll("pre > code")
        for i in range(codes.length):
            self._code(codes.item(i), highlight)
        if maths:
            spans = target.querySelectorAll("span.sp-math")
            for i in range(spans.length):
                self._math(spans.item(i), maths)

    def _code(self, code, highlight):
        pre = code.parentNode
        lang = ""
        cls = code.className or ""
        if cls.startswith("language-"):
            lang = cls[9:].split(" ")[0]
        source = code.textContent
        if highlight and lang and len(source) <= MAX_HIGHLIGHT:
            if self.hljs is None:
                code.setAttribute("data-pending", "")
                code.setAttribute("data-lang", lang)
                self._want("hljs")
            else:
                self._highlight(code, lang, source)
        # The label and the button's words come from CSS (attr/content), so the message's
        # text (what copy and tests read) is the reply alone.
        head = document.createElement("div")
        head.className = "code-head"
        head.setAttribute("data-lang", lang or "text")
        button = document.createElement("button")
        button.type = "button"
        button.className = "copy-code"
        button.setAttribute("data-action", "copy-code")
        button.setAttribute("aria-label", "Copy code")
        head.append(button)
        pre.parentNode.insertBefore(head, pre)

    def _highlight(self, code, lang, source):
        if not lang or not self.hljs.getLanguage(lang):
            return
        try:
            opts = to_js({"language": lang, "ignoreIllegals": True})
            value = self.hljs.highlight(source, opts).value
            code.replaceChildren(self.purify.sanitize(value, self.code_cfg))
            code.classList.add("hljs")
        except Exception:  # a highlighter bug must not cost the text
            code.textContent = source

    def _math(self, span, maths):
        index = span.getAttribute("data-i")
        if index is None or not index.isdigit() or int(index) >= len(maths):
            return
        tex, display = maths[int(index)]
        if display:
            span.classList.add("display")
        if len(tex) > MAX_MATH:
            span.textContent = tex
        elif self.katex is None:
            span.textContent = tex
            span.setAttribute("data-pending", "")
            self._want("katex")
        else:
            self._katex(span, tex, display)

    def _katex(self, span, tex, display):
        try:
            html = self.katex.renderToString(tex, self.katex_display if display else self.katex_opts)
        except Exception:
            span.textContent = tex
            return
        span.replaceChildren(self.purify.sanitize(html, self.math_cfg))
