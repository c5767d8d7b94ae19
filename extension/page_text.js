// Injected into the active tab by chrome.scripting.executeScript({files}) when the
// user asks about the page (py/background/browser.py). It returns the page's
// readable text; the script's completion value is the result. Everything is
// inside the arrow function: the script may run many times in the same world.
(() => {
  const LIMIT = 200000; // Python trims to the real budget; this only caps the transfer
  const JUNK =
    "script,style,noscript,template,svg,canvas,iframe,object,nav,aside,footer,form,button,[hidden],[aria-hidden='true']";
  const BLOCKS = "p,div,section,article,li,tr,h1,h2,h3,h4,h5,h6,pre,blockquote,dd,dt,figcaption,br";
  const textOf = (root) => {
    const copy = root.cloneNode(true);
    copy.querySelectorAll(JUNK).forEach((el) => el.remove());
    copy.querySelectorAll(BLOCKS).forEach((el) => el.append("\n"));
    return (copy.textContent || "")
      .replace(/[ \t\f\v\u00a0]+/g, " ")
      .replace(/ *\n[\s]*/g, "\n")
      .trim();
  };
  // Prefer the main content; fall back to the whole body when it is tiny.
  const main = document.querySelector("main, [role='main'], article");
  let text = main ? textOf(main) : "";
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
