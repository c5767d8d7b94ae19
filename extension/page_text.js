// Injected into the active tab by chrome.scripting.executeScript({files}) when the
// user asks about the page (py/background/browser.py). It returns the text a person
// can see on the page; the script's completion value is the result. Everything is
// inside the arrow function: the script may run many times in the same world.
//
// Only visible text counts: a page can hide instructions for the model in text
// nobody sees (display:none, visibility, opacity 0, aria-hidden, the hidden
// attribute, zero-size or clipped boxes, positioned off-screen, transparent ink),
// so each text node is kept only if its own box is on the page and nothing above
// it hides it.
(() => {
  const LIMIT = 200000; // Python trims to the real budget; this only caps the transfer
  const JUNK =
    "script,style,noscript,template,svg,canvas,iframe,object,nav,aside,footer,form,button,select,textarea," +
    "[hidden],[aria-hidden='true'],[inert]";
  const BLOCKS = "p,div,section,article,main,li,tr,h1,h2,h3,h4,h5,h6,pre,blockquote,dd,dt,figcaption,td,th";
  const seen = new Map(); // element -> whether it (and its ancestors) may show text

  const transparent = (color) => /rgba\([^)]*,\s*0(\.0*)?\)$|^transparent$/.test(color);

  function shown(el) {
    if (!el || el.nodeType !== 1) return true;
    if (seen.has(el)) return seen.get(el);
    let ok = !el.matches(JUNK);
    if (ok) {
      const s = getComputedStyle(el);
      ok =
        s.display !== "none" &&
        s.visibility !== "hidden" &&
        s.visibility !== "collapse" &&
        s.contentVisibility !== "hidden" &&
        parseFloat(s.opacity) > 0.05 &&
        !transparent(s.color) &&
        !/inset\((4\d|50|100)%/.test(s.clipPath) && // clip-path: inset(50%): the "visually hidden" idiom
        !(s.clip && s.clip !== "auto" && /rect\(\s*0(px)?[ ,]+0(px)?[ ,]+0(px)?[ ,]+0(px)?\s*\)/.test(s.clip));
      if (ok && /hidden|clip/.test(s.overflow)) {
        const box = el.getBoundingClientRect(); // a 1-px box that clips its text: screen-reader-only
        ok = box.width > 2 && box.height > 2;
      }
    }
    ok = ok && shown(el.parentElement);
    seen.set(el, ok);
    return ok;
  }

  const pageWidth = Math.max(document.documentElement.scrollWidth, innerWidth);
  const pageHeight = Math.max(document.documentElement.scrollHeight, innerHeight);

  // The text's own boxes: some box must have a size and lie on the page (not off-screen).
  function onPage(node) {
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      const left = r.left + scrollX;
      const top = r.top + scrollY;
      if (r.width >= 2 && r.height >= 4 && left + r.width > 0 && top + r.height > 0 && left < pageWidth && top < pageHeight) {
        return true;
      }
    }
    return false;
  }

  function textOf(root) {
    const parts = [];
    let block = null;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const value = node.nodeValue;
      if (!value || !value.trim() || !shown(node.parentElement) || !onPage(node)) continue;
      const container = node.parentElement.closest(BLOCKS);
      if (parts.length && container !== block) parts.push("\n");
      block = container;
      parts.push(value);
    }
    return parts
      .join("")
      .replace(/[ \t\f\v\u00a0\r\n]*\n[ \t\f\v\u00a0\r\n]*/g, "\n")
      .replace(/[ \t\f\v\u00a0]+/g, " ")
      .trim();
  }

  // Prefer the main content; fall back to the whole body when it is tiny.
  const main = document.querySelector("main, [role='main'], article");
  let text = main && shown(main) ? textOf(main) : "";
  if (text.length < 200 && document.body) text = textOf(document.body);
  const selection = String(window.getSelection?.() || "").trim();
  return {
    title: document.title || "",
    url: location.href,
    text: text.slice(0, LIMIT),
    chars: text.length,
    selection: selection.slice(0, LIMIT),
    content_type: document.contentType || "",
  };
})();
