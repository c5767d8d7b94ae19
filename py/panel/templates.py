"""User prompt templates: ``/name`` in the composer.

Templates come from ``SettingsView.templates`` as ``[{"name", "prompt"}]``. Typing
``/`` and the start of a name offers the matching templates; sending
``/name rest of the text`` sends the template's prompt, with ``{input}`` replaced
by the rest (or the rest appended after a blank line when the prompt has no
``{input}``). An unknown ``/word`` is sent as typed.
"""


def _clean(templates):
    out = []
    for t in templates or []:
        name = (t.get("name") or "").strip().lstrip("/")
        prompt = t.get("prompt") or ""
        if name and prompt and " " not in name:
            out.append({"name": name, "prompt": prompt})
    return out


def suggestions(text, templates):
    """Templates whose name starts with what follows a leading ``/`` (none once a space is typed)."""
    if not text.startswith("/") or " " in text or "\n" in text or "\t" in text:
        return []
    typed = text[1:].lower()
    found = [t for t in _clean(templates) if t["name"].lower().startswith(typed)]
    found.sort(key=lambda t: t["name"].lower())
    return found


def expand(text, templates):
    """The prompt to send for ``text``: a template's expansion, or None when it names none."""
    if not text.startswith("/"):
        return None
    body = text[1:]
    cut = len(body)
    for sep in (" ", "\n", "\t"):
        k = body.find(sep)
        if 0 <= k < cut:
            cut = k
    name = body[:cut].lower()
    rest = body[cut:].strip()
    for t in _clean(templates):
        if t["name"].lower() == name:
            prompt = t["prompt"]
            if "{input}" in prompt:
                return prompt.replace("{input}", rest).strip()
            return prompt + ("\n\n" + rest if rest else "")
    return None


def prompt_of(name, templates):
    """The prompt of template ``name`` (the quick actions' own: "summarize", "explain"), or None."""
    for t in _clean(templates):
        if t["name"].lower() == name:
            return t["prompt"]
    return None
