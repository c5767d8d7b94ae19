# The options page's DOM, built once by Python (MicroPython under PyScript, in the
# sandboxed options-ui.html; not imported by the tests): small element helpers and
# ``build``, the whole form, empty. panel.options_view paints values into it.

from pyscript import document

from panel import settings_form as sf


def el(tag, attrs=None, *children):
    e = document.createElement(tag)
    for name in attrs or {}:
        value = attrs[name]
        if value is True:
            e.setAttribute(name, "")
        elif value is not None and value is not False:
            e.setAttribute(name, str(value))
    for child in children:
        if isinstance(child, str):
            e.appendChild(document.createTextNode(child))
        elif child is not None:
            e.appendChild(child)
    return e


def button(text, action, cls=None, testid=None):
    attrs = {"type": "button", "data-action": action, "class": cls, "data-testid": testid, "id": testid}
    return el("button", attrs, text)


def field(name, label, control, hint=None, after=None):
    return el("div", {"class": "field", "id": "f-" + name},
              el("label", {"for": name}, label), control,
              el("p", {"class": "hint", "id": "hint-" + name}, hint) if hint else None, after,
              el("p", {"class": "error", "id": "err-" + name, "role": "alert", "hidden": True}))


def text_input(name, testid=None, kind="text", **extra):
    attrs = {"id": name, "name": name, "type": kind, "data-testid": testid, "data-field": name,
             "autocomplete": "off", "spellcheck": "false"}
    for k in extra:
        attrs[k.replace("_", "-")] = extra[k]
    return el("input", attrs)


def select(name, options, testid=None):
    s = el("select", {"id": name, "name": name, "data-testid": testid, "data-field": name})
    for value, label in options:
        s.appendChild(el("option", {"value": value}, label))
    return s


def section(title, *children, **attrs):
    return el("section", {"aria-labelledby": "h-" + attrs.get("sid", title)},
              el("h2", {"id": "h-" + attrs.get("sid", title)}, title), *children)


def folded(title, *children, **attrs):
    """A section shown folded: what few need (the page opens it when it matters)."""
    sid = attrs.get("sid", title)
    return el("details", {"id": "fold-" + sid, "class": "fold", "data-testid": "fold-" + sid},
              el("summary", None, el("h2", {"id": "h-" + sid}, title)),
              el("section", {"aria-labelledby": "h-" + sid}, *children))


def build(root):
    """The whole page, empty; values arrive with the first ``settings`` message."""
    provider = field("provider", "Provider", select("provider", sf.PROVIDERS, "provider"),
                     hint=sf.HINTS["openai"])
    base = field("base_url", "Base URL", text_input("base_url", "base-url", inputmode="url"),
                 hint="A base URL (https://host/v1) or the full endpoint you were given: both work.",
                 after=el("p", {"class": "preview"}, "Requests go to ",
                          el("code", {"id": "request-url", "data-testid": "request-url"})))
    model = field("model", "Model", text_input("model", "model", list="models"),
                  hint="The server's models are listed as you type (Test connection refreshes them).",
                  after=el("datalist", {"id": "models"}))
    wire = field("wire_api", "API", select("wire_api", sf.WIRE_APIS, "wire-api"),
                 hint="Automatic: the provider's API, or for a custom server the one Test connection finds.")
    probe = el("label", {"class": "check", "id": "probe-row"},
               el("input", {"type": "checkbox", "id": "test-probe", "data-testid": "test-probe"}),
               " Test connection also sends one short message (a few tokens)")
    providers = section(
        "Providers",
        el("p", {"class": "hint"}, "Save each provider you use (each keeps its own key, sent only to its "
           "own server); switch between them here or in the panel."),
        el("ul", {"id": "profiles", "data-testid": "profiles", "class": "profiles"}),
        el("div", {"class": "row wrap"},
           text_input("profile_name", "profile-name", placeholder="Name, e.g. Ollama on this machine",
                      data_field=None),
           button("Save provider", "profile-save", None, "profile-save"),
           button("Add another provider", "profile-new", None, "profile-new")),
        sid="providers")
    org = field("organization", "Organization (optional)", text_input("organization"))
    proj = field("project", "Project (optional)", text_input("project"))
    key = section(
        "API key",
        el("p", {"id": "key-state", "data-testid": "key-state", "class": "state"}),
        el("div", {"id": "key-entry", "class": "field"},
           el("label", {"for": "api_key"}, "Paste your API key"),
           el("div", {"class": "row"},
              # No data-field: the typed key is read once, at Save or Test, never kept in the state.
              text_input("api_key", "api-key", "password", placeholder="sk-…", data_field=None),
              button("Cancel", "key-cancel", testid="key-cancel")),
           el("p", {"class": "hint"}, "Stored encrypted in this browser profile. After saving, only its last "
              "four characters are shown."),
           el("p", {"class": "error", "id": "err-api_key", "role": "alert", "hidden": True})),
        el("div", {"id": "key-approve", "class": "confirm", "role": "alertdialog",
                   "aria-labelledby": "approve-text", "data-testid": "key-approve"},
           el("p", {"id": "approve-text", "data-testid": "approve-text"}),
           el("div", {"class": "row"}, button("Send my key there", "approve", "primary", "approve-key"),
              button("Enter another key", "replace"))),
        el("div", {"id": "key-actions", "class": "row"},
           button("Replace", "replace", testid="key-replace"),
           button("Reveal…", "confirm-reveal", testid="key-reveal"),
           button("Wipe…", "confirm-wipe", "danger-text", "key-wipe")),
        el("div", {"id": "key-confirm", "class": "confirm", "role": "alertdialog",
                   "aria-labelledby": "confirm-text"},
           el("p", {"id": "confirm-text"}),
           el("div", {"class": "row"}, button("", "confirm-yes", "primary", "confirm-yes"),
              button("Cancel", "confirm-no"))),
        el("div", {"id": "key-revealed", "class": "revealed"},
           el("code", {"id": "secret", "data-testid": "secret"}),
           button("Hide", "hide-secret"), el("span", {"class": "hint"}, "Hidden again in 30 s.")),
        sid="key")
    account = folded(
        "ChatGPT account",
        el("p", {"id": "auth-status", "data-testid": "auth-status", "class": "state", "role": "status"}),
        field("auth_mode", "Sign requests with", select("auth_mode", sf.AUTH_MODES, "auth-mode"),
              hint="ChatGPT sign-in uses your ChatGPT plan instead of API credits, as Codex does."),
        el("div", {"class": "row wrap"},
           el("label", {"class": "stack", "for": "auth-import"}, "Import Codex auth.json",
              # Read here by FileReader (options.py) and sent once in auth.import; never kept.
              el("input", {"type": "file", "id": "auth-import", "data-testid": "auth-import",
                           "accept": ".json,application/json"})),
           button("Sign out", "auth-clear", "danger-text", "auth-clear")),
        el("p", {"class": "hint"}, "Codex writes it to ~/.codex/auth.json when you run codex login. SidePy "
           "keeps the tokens encrypted in this profile, refreshes them as Codex does, and never shows them."),
        el("p", {"class": "error", "id": "auth-error", "role": "alert", "hidden": True}),
        sid="account")
    token_input = text_input("token_url", "token-url", inputmode="url")
    token = field("token_url", "ChatGPT token endpoint", token_input,
              hint="Where the tokens are refreshed. SidePy sends them only to auth.openai.com (a developer "
                   "build may use a test server).")
    vault = section("Passphrase lock", el("div", {"id": "vault-body", "data-testid": "vault"}),
                    el("p", {"class": "error", "id": "vault-error", "role": "alert", "hidden": True}),
                    sid="vault")
    default = [("", "Model default")]
    behaviour = section(
        "Answers",
        el("div", {"class": "grid3"},
           # Filled with the efforts the model field's model takes (options_view).
           field("reasoning_effort", "Reasoning effort",
                 select("reasoning_effort", default, "reasoning-effort"), hint=sf.effort_hint(None, "")),
           field("reasoning_summary", "Reasoning summary", select(
               "reasoning_summary", [(v, v) for v in sf.CHOICES["reasoning_summary"]])),
           field("verbosity", "Verbosity", select(
               "verbosity", default + [(v, v) for v in sf.CHOICES["verbosity"][1:]]))),
        field("instructions", "Instructions",
              el("textarea", {"id": "instructions", "data-field": "instructions", "rows": "4"}),
              hint="Sent as the system instructions of every conversation."),
        el("label", {"class": "check"}, el("input", {"type": "checkbox", "id": "web_search",
                                                     "data-field": "web_search"}),
           " Let the model search the web"),
        sid="answers")
    requests = folded(
        "Advanced",
        el("div", {"class": "grid3"},
           field("idle_timeout_s", "Idle timeout (seconds)", text_input("idle_timeout_s", kind="number",
                                                                       min="5", max="3600")),
           field("request_max_retries", "Request retries", text_input("request_max_retries", kind="number",
                                                                      min="0", max="100")),
           field("stream_max_retries", "Stream retries", text_input("stream_max_retries", kind="number",
                                                                    min="0", max="100"))),
        el("div", {"class": "grid2"}, org, proj),
        token,
        sid="requests")
    templates = section(
        "Prompt templates",
        el("p", {"class": "hint"}, "Type /name in the panel to send a template; {input} in it is replaced by "
           "what you type after the name. /summarize and /explain are also what the panel's "
           "“Summarize page” and “Ask about selection” send ({input}: the page's title)."),
        el("div", {"id": "templates", "data-testid": "templates"}),
        button("Add template", "add-template", testid="add-template"),
        el("p", {"class": "error", "id": "err-templates", "role": "alert", "hidden": True}),
        sid="templates")
    screenshots = section(
        "Screenshots",
        el("p", {"class": "hint"}, "The panel's Screenshot button captures a tab where you opened SidePy "
           "(its toolbar button, Ctrl+Shift+Y or the context menu): SidePy asks for no standing access to "
           "your pages. To capture any tab without that step, allow SidePy to read every site."),
        el("div", {"class": "row"},
           button("Allow screenshots of any tab", "screenshots-allow", None, "screenshots-allow"),
           button("Stop allowing it", "screenshots-revoke", None, "screenshots-revoke"),
           el("output", {"id": "screenshots-state", "data-testid": "screenshots-state",
                         "aria-live": "polite"})),
        sid="screenshots")
    diagnostics = folded(
        "Diagnostics",
        el("p", {"class": "hint"}, "For troubleshooting: a round trip to the Python that runs SidePy in the "
           "background."),
        el("div", {"class": "row"}, button("Ping Python", "ping", None, "ping"),
           el("output", {"id": "ping-result", "data-testid": "ping-result", "aria-live": "polite"})),
        sid="diagnostics")
    result = el("div", {"id": "test-result", "data-testid": "test-result", "role": "status", "hidden": True})
    connection = section("Connection", provider, base, wire, model, probe, result, sid="connection")
    bar = el("div", {"class": "bar"},
             button("Save", "save", "primary", "save"),
             button("Test connection", "test", None, "test-connection"),
             el("span", {"id": "settings-status", "data-testid": "settings-status", "role": "status",
                         "aria-live": "polite"}))
    logo = el("img", {"src": "icons/icon48.png", "alt": "", "width": "32", "height": "32"})
    welcome = el("section", {"id": "welcome", "data-testid": "welcome", "class": "welcome", "hidden": True},
                  el("h2", None, "Welcome to SidePy"),
                  el("ol", None,
                     el("li", None, "Choose who answers: your OpenAI API key, your ChatGPT plan (Codex "
                        "sign-in, below), or another provider: OpenRouter, Groq, DeepSeek, Mistral, Gemini, "
                        "Azure, or a server on this computer such as Ollama or LM Studio."),
                     el("li", None, "Paste the key the provider gave you (a local server may need none)."),
                     el("li", None, "Press Test connection, then Save."),
                     el("li", None, "Open SidePy from the toolbar on any page and ask away.")))
    main = el("main", None, el("header", None, logo, el("h1", None, "SidePy settings")), welcome,
              # What a user needs first: who answers and with what key (and the other providers
              # saved beside it); then how it answers and what it may see; then what few need, folded.
              connection, key, vault, providers, behaviour, templates, screenshots, account, requests,
              diagnostics)
    root.replaceChildren(main)
    root.appendChild(el("footer", None, bar,
                        el("p", {"class": "error", "id": "err-general", "role": "alert", "hidden": True})))
