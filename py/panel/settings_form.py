"""The options form's fields: from a SettingsView to form values and back, and local checks.

Pure functions (MicroPython in options-ui.html, CPython in the tests). Form values
are what the inputs hold: strings, and a bool for the checkbox. The background
validates again (pydantic) and normalises the base URL; the checks here only catch
what a user can fix before a round trip, in words about the form (seconds, not
``idle_timeout_ms``).
"""

# The presets of modelclient (a unit test keeps this copy in step); "compatible" is the custom one.
# (value, label, base URL to fill in or "", what the user needs)
PRESETS = (
    ("openai", "OpenAI", "https://api.openai.com/v1", "Paste a key from platform.openai.com → API keys."),
    ("azure", "Azure OpenAI", "",
     "Your resource's endpoint (…/openai/v1) or a full …/responses?api-version=… URL; its key goes in the "
     "api-key header."),
    ("openrouter", "OpenRouter", "https://openrouter.ai/api/v1", "Paste a key from openrouter.ai → Keys."),
    ("groq", "Groq", "https://api.groq.com/openai/v1", "Paste a key from console.groq.com → API Keys."),
    ("deepseek", "DeepSeek", "https://api.deepseek.com/v1",
     "Paste a key from platform.deepseek.com → API keys."),
    ("mistral", "Mistral", "https://api.mistral.ai/v1", "Paste a key from console.mistral.ai → API Keys."),
    ("gemini", "Gemini (OpenAI-compatible)", "https://generativelanguage.googleapis.com/v1beta/openai",
     "Paste a Gemini API key from aistudio.google.com."),
    ("ollama", "Ollama", "http://localhost:11434/v1", "No key needed: start Ollama on this computer."),
    ("lmstudio", "LM Studio", "http://localhost:1234/v1",
     "No key needed: start LM Studio's server (Developer tab)."),
    ("llamacpp", "llama.cpp server", "http://localhost:8080/v1",
     "Start llama-server; a key only if you started it with --api-key."),
    ("vllm", "vLLM", "http://localhost:8000/v1", "Start vllm serve; a key only if you gave it --api-key."),
    ("compatible", "Custom (any OpenAI-compatible server)", "",
     "Any server with the Responses API or Chat Completions: Test connection finds which. "
     "A key is optional."),
)
PROVIDERS = tuple((p[0], p[1]) for p in PRESETS)
PRESET_BASES = {p[0]: p[2] for p in PRESETS}
WIRE_APIS = (
    ("auto", "Automatic"),
    ("responses", "Responses API"),
    ("chat", "Chat Completions"),
)
# The presets whose test message costs money (Test connection asks before sending one).
PAID = ("openai", "azure", "openrouter", "groq", "deepseek", "mistral", "gemini", "compatible")
OPENAI_BASE = "https://api.openai.com/v1"
# ChatGPT sign-in (docs/protocol.md, "Accounts"): the backend the OpenAI preset then uses, and
# where the tokens are refreshed (a setting, for tests and proxies).
CHATGPT_BASE = "https://chatgpt.com/backend-api/codex"
TOKEN_URL = "https://auth.openai.com/oauth/token"
AUTH_MODES = (
    ("apikey", "API key"),
    ("chatgpt", "ChatGPT sign-in (Codex auth.json)"),
)
PLACEHOLDERS = {p[0]: p[2] for p in PRESETS}
PLACEHOLDERS["azure"] = "https://NAME.openai.azure.com/openai/v1"
PLACEHOLDERS["compatible"] = "https://host/v1"
HINTS = {p[0]: p[3] for p in PRESETS}
CHOICES = {
    "provider": [p for p, _ in PROVIDERS],
    "wire_api": [w for w, _ in WIRE_APIS],
    # Every effort some model takes (``none`` from gpt-5.1, ``xhigh`` from codex-max and gpt-5.2);
    # the field offers the ones its model takes (:func:`effort_choices`).
    "reasoning_effort": ["", "none", "minimal", "low", "medium", "high", "xhigh"],
    "reasoning_summary": ["auto", "concise", "detailed", "none"],
    "verbosity": ["", "low", "medium", "high"],
    "auth_mode": [m for m, _ in AUTH_MODES],
}
TEXTS = ("base_url", "model", "instructions", "organization", "project", "token_url")
OPTIONAL = ("reasoning_effort", "verbosity", "organization", "project")  # "" is sent as null
# name, low, high, what a unit is called
NUMBERS = (
    ("idle_timeout_s", 5, 3600, "seconds"),
    ("request_max_retries", 0, 100, "retries"),
    ("stream_max_retries", 0, 100, "retries"),
)
BOOLS = ("web_search",)
# Background field names that the form shows under another name.
FROM_BACKGROUND = {"idle_timeout_ms": "idle_timeout_s", "key": "api_key"}

# Origins the extension may reach without asking: the manifest's host_permissions
# (loopback, for local servers and the tests' mock), and OpenAI's API, which answers
# CORS requests from any origin.
NO_PERMISSION_NEEDED = ("http://127.0.0.1", "http://localhost", "https://api.openai.com")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def _text(value):
    return "" if value is None else str(value)


WIRE_WORDS = {"responses": "the Responses API", "chat": "Chat Completions"}


def wire_hint(view, form):
    """What the API choice means for the provider in the form (``view``: the saved settings)."""
    if form.get("wire_api", "auto") != "auto":
        return "Always " + WIRE_WORDS[form["wire_api"]] + ", whatever the server offers."
    provider = form.get("provider")
    if provider != "compatible":
        for p in view.get("presets") or []:
            if p.get("id") == provider and p.get("wire_api"):
                return "Automatic: " + dict(PROVIDERS).get(provider, provider) + " speaks " + \
                    WIRE_WORDS[p["wire_api"]] + "."
        return "Automatic."
    detected = view.get("detected_wire") if preset_of_view(view) == "compatible" else None
    if detected in WIRE_WORDS and view.get("base_url") == form.get("base_url"):
        return "Automatic: Test connection found " + WIRE_WORDS[detected] + " at this server."
    return ("Automatic: Test connection finds which API the server speaks (Responses first, then "
            "Chat Completions).")


EFFORT_WORDS = {"": "Model default", "none": "none (no reasoning)", "xhigh": "xhigh (extra high)"}


def effort_choices(view, model, current=""):
    """The reasoning-effort field's ``[(value, label)]`` for ``model``: the efforts the worker's
    map says it takes (``SettingsView.efforts``; a model the map does not cover: every effort),
    and ``current`` even where the model does not take it: a saved choice is never dropped
    unseen (the worker leaves it out of this model's requests)."""
    known = (view or {}).get("efforts")
    model = (model or "").strip()
    if isinstance(known, dict) and model in known:
        values = [""] + [e for e in known[model] or [] if e in CHOICES["reasoning_effort"]]
    else:
        values = list(CHOICES["reasoning_effort"])
    if current and current not in values:
        values.append(current)
    return [(v, EFFORT_WORDS.get(v, v)) for v in values]


def effort_hint(view, model):
    """What the field's choices mean for ``model``: nothing to choose, or whose efforts they are."""
    known = (view or {}).get("efforts")
    model = (model or "").strip()
    if not isinstance(known, dict) or model not in known:
        return "Used where the model takes it."
    if not known[model]:
        return model + " takes no reasoning effort."
    return "The efforts " + model + " takes."


def preset_of_view(view):
    """The form's provider value: the view's preset, with the custom one shown as "compatible"."""
    preset = _text(view.get("preset"))
    if preset == "custom" or not preset:
        return _text(view.get("provider")) or "openai"
    return preset


def provider_patch(value):
    """``{provider, preset}`` for the form's provider value."""
    if value in ("openai", "azure"):
        return {"provider": value, "preset": value}
    if value == "compatible":
        return {"provider": "compatible", "preset": "custom"}
    return {"provider": "compatible", "preset": value}


def form_from_view(view):
    """Form values of a SettingsView (docs/protocol.md)."""
    view = dict(view)
    view["provider"] = preset_of_view(view)
    form = {}
    for name in TEXTS:
        form[name] = _text(view.get(name))
    for name in CHOICES:
        value = _text(view.get(name))
        form[name] = value if value in CHOICES[name] else CHOICES[name][0]
    ms = view.get("idle_timeout_ms")
    form["idle_timeout_s"] = str(ms // 1000) if isinstance(ms, int) else "300"
    for name in ("request_max_retries", "stream_max_retries"):
        form[name] = _text(view.get(name))
    for name in BOOLS:
        form[name] = bool(view.get(name))
    return form


def templates_from_view(view):
    found = view.get("templates") or []
    return [{"name": _text(t.get("name")), "prompt": _text(t.get("prompt"))} for t in found]


def parse_int(text):
    text = text.strip()
    digits = text[1:] if text.startswith("-") else text
    if not digits or not digits.isdigit():
        return None
    return int(text)


def patch_from_form(form, templates):
    """The ``settings.set`` patch (call :func:`check` first: numbers must parse)."""
    patch = {}
    for name in TEXTS:
        patch[name] = form[name].strip() if name != "instructions" else form[name]
    for name in CHOICES:
        patch[name] = form[name]
    patch.update(provider_patch(form["provider"]))
    for name in OPTIONAL:
        if patch[name] == "":
            patch[name] = None
    patch["idle_timeout_ms"] = parse_int(form["idle_timeout_s"]) * 1000
    patch["request_max_retries"] = parse_int(form["request_max_retries"])
    patch["stream_max_retries"] = parse_int(form["stream_max_retries"])
    for name in BOOLS:
        patch[name] = bool(form[name])
    patch["templates"] = [{"name": t["name"].strip().lstrip("/"), "prompt": t["prompt"]} for t in templates]
    return patch


def _template_name_ok(name):
    # [a-z0-9][a-z0-9_-]{0,31}, spelled out: MicroPython's re has no counted repeats.
    if not 1 <= len(name) <= 32:
        return False
    for i in range(len(name)):
        c = name[i]
        if not ("a" <= c <= "z" or "0" <= c <= "9" or (i > 0 and c in "_-")):
            return False
    return True


def check_key(key):
    """None if ``key`` could be an API key (the background's rule), else what is wrong."""
    key = key.strip()
    if len(key) < 8 or len(key) > 1024:
        return "this does not look like an API key (too short or too long)"
    for c in key:
        if not "!" <= c <= "~":
            return "the key has spaces or characters that cannot be sent to the server"
    return None


def check(form, templates, key=None):
    """Errors the form can show before anything is sent: ``{field: message}``."""
    errors = {}
    model = form["model"].strip()
    if not model or " " in model or "\t" in model:
        errors["model"] = "a model name has no spaces, e.g. gpt-5-mini"
    for name, low, high, unit in NUMBERS:
        value = parse_int(form[name])
        if value is None or not low <= value <= high:
            errors[name] = "a whole number of %s from %d to %d" % (unit, low, high)
    seen = []
    for i in range(len(templates)):
        name = templates[i]["name"].strip().lstrip("/")
        if not _template_name_ok(name):
            errors["template-%d" % i] = "a name is 1–32 lower-case letters, digits, - or _ (e.g. tldr)"
        elif name in seen:
            errors["template-%d" % i] = "another template has this name"
        elif not templates[i]["prompt"].strip():
            errors["template-%d" % i] = "write the prompt this /" + name + " stands for"
        seen.append(name)
    if key:
        problem = check_key(key)
        if problem:
            errors["api_key"] = problem
    return errors


def field_errors(fields):
    """The background's ``invalid_settings`` fields, under the form's names."""
    out = {}
    for name in fields or {}:
        out[FROM_BACKGROUND.get(name, name)] = fields[name]
    return out


def origin(url):
    """``(scheme, host)`` of what the user typed, as the background will read it, or None.

    Mirrors background.settings.normalise_base_url's scheme rule: no scheme means
    https, or http for a local host.
    """
    text = url.strip()
    if not text:
        return ("https", "api.openai.com")
    if "://" not in text:
        host = text.split("/")[0].split(":")[0].lower()
        local = host in LOCAL_HOSTS or host.endswith(".localhost")
        text = ("http://" if local else "https://") + text
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    netloc = rest.split("/")[0].split("?")[0].split("#")[0]
    netloc = netloc.rpartition("@")[2]  # no user:password@
    host = netloc[: netloc.find("]") + 1] if netloc.startswith("[") else netloc.split(":")[0]
    host = host.lower()
    if scheme not in ("http", "https") or not host or " " in host:
        return None
    return (scheme, host)


def permission_patterns(form):
    """Every host permission the form's settings need: the base URL's origin and, with ChatGPT
    sign-in, the ChatGPT backend (the OpenAI preset's own URL goes there) and the token endpoint."""
    base = form["base_url"].strip()
    chatgpt = form.get("auth_mode") == "chatgpt"
    if chatgpt and form["provider"] == "openai" and base in ("", OPENAI_BASE):
        base = CHATGPT_BASE
    urls = [base, (form.get("token_url") or "").strip() or TOKEN_URL] if chatgpt else [base]
    out = []
    for url in urls:
        pattern = permission_pattern(url)
        if pattern is not None and pattern not in out:
            out.append(pattern)
    return out


def permission_pattern(url):
    """The host permission to ask for before using ``url`` (``https://host/*``), or None.

    Chrome match patterns have no port: one grant covers every port of the host.
    """
    found = origin(url)
    if found is None:
        return None
    base = found[0] + "://" + found[1]
    if base in NO_PERMISSION_NEEDED:
        return None
    return base + "/*"
