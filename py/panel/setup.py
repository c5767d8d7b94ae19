"""What the panel knows of the settings: whether SidePy can answer yet, the models, the templates.

A part of :class:`panel.state.PanelState`. It keeps the worker's ``SettingsView``
(from ``hello`` and ``settings`` pushes) and answers:

* ``needs_setup``: no way to reach a model yet — no API key for a provider that
  needs one, or ChatGPT sign-in selected but not signed in. The panel then shows the
  setup card (``data-testid="onboarding"``) instead of "Ask anything";
* ``update`` says which causes of an error a new view fixed (``key``: another key
  or sign-in; ``server``: another provider or URL; ``model``: another default
  model), so their banners can go;
* the default model, the models to offer (the active provider's server lists them:
  ``models``), the templates, and the reasoning efforts a model takes (``efforts``:
  the worker's per-model map, from modelclient).
"""

# Providers that refuse requests without a key, for a view without presets (an older worker).
KEYED = ("openai", "azure")

# The efforts of a model the worker's map does not cover (a conversation's own model).
EFFORTS = ("minimal", "low", "medium", "high")

# Model families without a reasoning effort, for a model the worker's map does not cover. A
# model not known here keeps the picker (a server's own model may reason).
NON_REASONING = ("gpt-4", "gpt-3.5", "chatgpt-4o")

PROVIDER_CHOICES = (
    ("openai", "OpenAI API key", "Pay per use with a key from platform.openai.com."),
    ("chatgpt", "ChatGPT plan", "Sign in with the auth.json that Codex wrote."),
    ("compatible", "Another server", "OpenRouter, Groq, DeepSeek, Mistral, Gemini, Azure, or a server on "
     "this computer: Ollama, LM Studio, llama.cpp, vLLM."),
)


def _key_state(s):
    key = s.get("key") or {}
    auth = s.get("auth") or {}
    return (bool(key.get("set")), key.get("masked"), s.get("auth_mode"), auth.get("chatgpt"))


def _server_state(s):
    return (s.get("provider"), s.get("preset"), s.get("base_url"), s.get("request_url"))


class Setup:
    def __init__(self, rev):
        self.rev = rev
        self.settings = {}
        self.known = False  # a SettingsView arrived

    def update(self, view):
        """Take a new ``SettingsView``; return the error causes it fixed."""
        if not view:
            return []
        old = self.settings
        self.settings = view
        fixed = []
        if self.known:
            if _key_state(old) != _key_state(view):
                fixed.append("key")
            if _server_state(old) != _server_state(view):
                fixed.append("server")
                fixed.append("key")  # another server: its key errors were about the old one
            if old.get("model") != view.get("model"):
                fixed.append("model")
        self.known = True
        self.rev.touch("header", "composer", "messages")
        return fixed

    @property
    def needs_setup(self):
        s = self.settings
        if not self.known:
            return False  # not known yet: say nothing rather than something wrong
        if s.get("auth_mode") == "chatgpt":
            return (s.get("auth") or {}).get("chatgpt") != "signed_in"
        preset = self.preset
        needs_key = preset.get("key") == "required" if preset else s.get("provider") in KEYED
        if needs_key:
            return not (s.get("key") or {}).get("set")
        return not s.get("base_url")

    @property
    def preset(self):
        """The active provider's preset (``SettingsView.presets``), or None."""
        chosen = self.settings.get("preset")
        for p in self.settings.get("presets") or []:
            if p.get("id") == chosen:
                return p
        return None

    @property
    def provider_label(self):
        s = self.settings
        if s.get("auth_mode") == "chatgpt":
            return "ChatGPT"
        preset = self.preset
        if preset and preset.get("id") != "custom":
            return preset.get("label") or "your server"
        return {"openai": "OpenAI", "azure": "Azure OpenAI"}.get(s.get("provider"), "your server")

    @property
    def model(self):
        return self.settings.get("model") or ""

    @property
    def templates(self):
        return self.settings.get("templates") or []

    @property
    def idle_timeout_ms(self):
        return self.settings.get("idle_timeout_ms") or 300000

    def models(self, current):
        """The models to offer in the picker, ``current`` among them."""
        models = list(self.settings.get("models") or [])
        if current and current not in models:
            models.insert(0, current)
        return models

    def efforts(self, model):
        """The reasoning efforts ``model`` takes ([] for none): the worker's map, else a guess."""
        known = self.settings.get("efforts")
        if isinstance(known, dict) and model in known:
            return list(known[model] or [])
        return list(EFFORTS) if reasons(model) else []


def reasons(model):
    """Whether ``model`` takes a reasoning effort (unknown models: yes)."""
    name = (model or "").lower()
    return not any(name.startswith(prefix) for prefix in NON_REASONING)
