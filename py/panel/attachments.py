"""The composer's attachments: the chips of what goes with the next message, and the viewer.

A part of :class:`panel.state.PanelState`. What the user attaches — a screenshot of
the tab (the camera button), images and files pasted, dropped or picked — becomes a
chip above the composer at once, marked busy until the worker has checked and
stored it (``attach.added`` carries its thumbnail), then removable (×) and openable.
A refusal takes the chip away and says why in the banner (``attachments``).

The bytes never pass through this module: the DOM layer (panel.main) keeps the
``File`` under the chip's ``local`` number and, when it posts an ``attach.add``
request, hands the file to the page's reader (``extension/panel-files.js``), which
adds the data to the message itself. The worker keeps what was attached in
IndexedDB at once, so a worker restart before Send loses nothing: the chips keep
the ids, and an ``attach.*`` request the worker never answered is posted again.

``send_ids`` is what ``chat.send`` carries; ``take`` empties the composer for the
message (its chips become the message's tiles); ``put_back`` returns them when the
worker refused the message. The viewer (``open``) shows one attachment full size,
from the composer or from a message (``attach.get``).

Pure (MicroPython and CPython).
"""

from panel import errors, fmt

# The largest file the worker takes (an image; background/attachments/model.py LIMITS):
# a larger one is refused here, before its bytes are read.
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_PER_MESSAGE = 10  # LIMITS.per_message
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
# What the picker offers (the worker decides by the bytes; this only filters the dialog).
ACCEPT = ("image/png,image/jpeg,image/webp,image/gif,application/pdf,text/*,.md,.csv,.json,.py,.js,.ts,"
          ".html,.css,.xml,.yaml,.yml,.toml,.ini,.log,.sh,.c,.h,.cpp,.java,.go,.rs,.rb,.php,.sql,.tex")
BUSY = "Wait a moment: an attachment is still being added."

# Thumbnails seen, by attachment id: a view without one (chat.accepted, turn.started carry
# none) shows the one the panel already has. Bounded: the oldest go first.
THUMBS = {}
MAX_THUMBS = 300


def remember(view):
    """Keep ``view``'s thumbnail for later views of the same attachment."""
    if isinstance(view, dict) and view.get("id") and view.get("thumb"):
        if view["id"] not in THUMBS and len(THUMBS) >= MAX_THUMBS:
            del THUMBS[next(iter(THUMBS))]
        THUMBS[view["id"]] = view["thumb"]


def with_thumbs(views):
    """A message's ``attachments`` views, each with its thumbnail when the panel has one."""
    out = []
    for view in views or []:
        if not isinstance(view, dict) or not view.get("id"):
            continue
        remember(view)
        if not view.get("thumb") and view["id"] in THUMBS:
            view = dict(view)
            view["thumb"] = THUMBS[view["id"]]
        out.append(view)
    return out


# Requests this part makes (their replies come back to it).
ADD = "attach"
REMOVE = "attach-remove"
GET = "attach-get"
KINDS = (ADD, REMOVE, GET)


def label(chip):
    """The chip's words: its name and size (screen readers read them too)."""
    name, detail = label_parts(chip)
    if chip.get("busy"):
        return "%s (%s)" % (name, detail)
    return "%s, %s" % (name, detail) if detail else name


def label_parts(chip):
    """``label`` in two: the name (cut short on a narrow panel) and what is always shown
    whole beside it, the size or "adding…"."""
    name = chip.get("name") or "attachment"
    if chip.get("busy"):
        return name, "adding…"
    size = chip.get("bytes")
    return name, fmt.size(size) if size else ""


class Attachments:
    def __init__(self, conn, rev, banners):
        self.conn = conn
        self.rev = rev
        self.banners = banners
        self.chips = []  # {"local", "id", "kind", "name", "bytes", "thumb", "busy"}
        self.viewer = None  # {"id", "name", "url" (None while it loads), "kind"}
        self._local = 0

    # ----------------------------------------------------------------- adding

    def _chip(self, name, kind):
        self._local += 1
        chip = {"local": self._local, "id": None, "kind": kind, "name": name, "bytes": None, "thumb": None,
                "busy": True}
        self.chips.append(chip)
        self.rev.touch("composer")
        return chip

    def _room(self, adding):
        if len(self.chips) + adding > MAX_PER_MESSAGE:
            self.banners.say("attachments", "A message can carry up to %d attachments." % MAX_PER_MESSAGE)
            return False
        return True

    def add(self, name, size, mime, source, conversation_id):
        """The user gave a file (``source``: paste, drop, picker): a busy chip and an
        ``attach.add`` request. Its ``local`` number (the DOM layer keeps the file under
        it), or None when it is refused here (too large, too many)."""
        if not self._room(1):
            return None
        if size > MAX_FILE_BYTES:
            self.banners.say("attachments", "“%s” is %s; SidePy takes files up to %s."
                             % (name, fmt.size(size), fmt.size(MAX_FILE_BYTES)))
            return None
        self.banners.dismiss("attachments")
        chip = self._chip(name, "image" if mime in IMAGE_TYPES else "file")
        msg = {"type": "attach.add", "name": name, "source": source}
        if conversation_id:
            msg["conversation_id"] = conversation_id
        self.conn.request(ADD, msg, {"local": chip["local"]})
        return chip["local"]

    def screenshot(self, conversation_id):
        """The camera button: a busy chip until the worker has captured the tab."""
        if not self._room(1):
            return None
        self.banners.dismiss("attachments")
        chip = self._chip("Screenshot", "image")
        msg = {"type": "attach.screenshot"}
        if conversation_id:
            msg["conversation_id"] = conversation_id
        self.conn.request(ADD, msg, {"local": chip["local"]})
        return chip["local"]

    def _find(self, local):
        for chip in self.chips:
            if chip["local"] == local:
                return chip
        return None

    def added(self, msg, entry):
        """``attach.added``: the chip shows what the worker stored."""
        chip = self._find((entry.get("data") or {}).get("local"))
        view = msg.get("attachment") or {}
        if chip is None:  # removed while it was being added: the worker's copy goes too
            if view.get("id"):
                self.conn.request(REMOVE, {"type": "attach.remove", "attachment_id": view["id"]})
            return
        remember(view)
        chip.update({"id": view.get("id"), "kind": view.get("kind") or chip["kind"],
                     "name": view.get("name") or chip["name"], "bytes": view.get("bytes"),
                     "thumb": view.get("thumb"), "busy": False})
        self.rev.touch("composer")

    def refused(self, entry, msg):
        """The worker refused an ``attach.*`` request (``{code, message}``)."""
        kind = entry.get("kind")
        if kind == ADD:
            chip = self._find((entry.get("data") or {}).get("local"))
            if chip is not None:
                self.chips.remove(chip)
                self.rev.touch("composer")
            self.banners.show("attachments", errors.explain_request(msg))
        elif kind == GET:
            self.viewer = None
            self.rev.touch("composer")
            self.banners.show("attachments", errors.explain_request(msg))
        # attach.remove refused: nothing to undo (the chip is gone either way).

    # --------------------------------------------------------------- removing

    def remove(self, local):
        """The chip's ×: it goes, and so does the worker's copy."""
        chip = self._find(local)
        if chip is None:
            return
        self.chips.remove(chip)
        if chip["id"]:
            self.conn.request(REMOVE, {"type": "attach.remove", "attachment_id": chip["id"]})
        if self.viewer and self.viewer["id"] == chip["id"]:
            self.viewer = None
        self.rev.touch("composer")

    # ---------------------------------------------------------------- viewing

    def open(self, attachment_id, name, kind="image"):
        """Show one attachment full size (a chip's or a message's)."""
        if not attachment_id:
            return
        self.viewer = {"id": attachment_id, "name": name, "url": None, "text": None, "kind": kind,
                       "loaded": False}
        self.conn.request(GET, {"type": "attach.get", "attachment_id": attachment_id})
        self.rev.touch("composer")

    def got(self, msg):
        """``attach.data``: the viewer's content arrived."""
        view = msg.get("attachment") or {}
        if self.viewer is None or self.viewer["id"] != view.get("id"):
            return
        self.viewer["url"] = msg.get("data_url")
        self.viewer["text"] = msg.get("text")
        self.viewer["kind"] = view.get("kind") or self.viewer["kind"]
        self.viewer["bytes"] = view.get("bytes")
        self.viewer["loaded"] = True
        self.rev.touch("composer")

    def close(self):
        if self.viewer is not None:
            self.viewer = None
            self.rev.touch("composer")

    # ---------------------------------------------------------------- sending

    @property
    def busy(self):
        return any(chip["busy"] for chip in self.chips)

    def send_ids(self):
        return [chip["id"] for chip in self.chips if chip["id"]]

    def take(self):
        """The chips go with the message: the composer is empty again."""
        taken = [chip for chip in self.chips if chip["id"]]
        self.chips = [chip for chip in self.chips if not chip["id"]]
        if taken:
            self.rev.touch("composer")
        return taken

    def put_back(self, chips):
        """A refused message's attachments are attached again (nothing the user gave is lost)."""
        known = set(chip["id"] for chip in self.chips)
        for chip in chips or []:
            if chip.get("id") and chip["id"] not in known:
                self.chips.append(dict(chip))
        self.rev.touch("composer")


def badge(view):
    """The short word a file shows where an image shows its thumbnail: ``PDF``, ``MD``, ``TXT``."""
    if view.get("kind") == "pdf":
        return "PDF"
    name = view.get("name") or ""
    dot = name.rfind(".")
    ext = name[dot + 1:] if dot > 0 else ""
    plain = ext and all(c.isalpha() or c.isdigit() for c in ext)  # MicroPython's str has no isalnum
    return ext[:4].upper() if plain else "FILE"


def viewer_note(viewer):
    """What the viewer says when it has nothing to show (a PDF; something that went wrong)."""
    if not viewer.get("loaded") or viewer.get("url") or viewer.get("text") is not None:
        return ""
    size = fmt.size(viewer.get("bytes")) if viewer.get("bytes") else ""
    what = "A PDF" if viewer.get("kind") == "pdf" else "This file"
    return "%s%s: it goes to the model as it is; the panel shows no preview of it." % (
        what, " of " + size if size else "")


def tiles(views):
    """A message's attachments as the renderer shows them: ``[{"id", "kind", "name", "thumb", "label"}]``."""
    out = []
    for view in views or []:
        if not isinstance(view, dict) or not view.get("id"):
            continue
        out.append({"id": view["id"], "kind": view.get("kind") or "file", "name": view.get("name") or "",
                    "thumb": view.get("thumb"), "label": label(view)})
    return out
