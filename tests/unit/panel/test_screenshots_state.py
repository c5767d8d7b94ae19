"""The options page's Screenshots section: <all_urls> shown, asked for inside the click, given back.

Plain functions and asserts: these tests also run on MicroPython (tests/micropython).
"""

from panel.options_link import OptionsLink
from panel.screenshots_state import ALL_URLS, ScreenshotAccess
from panel.settings_state import SettingsState

try:
    from tests.unit.panel.optkit import view
except ImportError:  # MicroPython: this folder is on sys.path
    from optkit import view


def test_the_state_comes_from_the_settings_view():
    shots = ScreenshotAccess(OptionsLink())
    assert shots.any_tab is None and shots.text == ""
    shots.settings(view(screenshots={"any_tab": False}))
    assert shots.text == "Not allowed: the Screenshot button captures a tab after you open SidePy on it."
    shots.settings(view(screenshots={"any_tab": True}))
    assert shots.text == "Allowed: the Screenshot button captures any tab."
    shots.settings(view())  # a worker without a browser says nothing: unchanged
    assert shots.any_tab is True


def test_allow_asks_the_relay_inside_the_click_and_the_answer_is_said():
    link = OptionsLink()
    shots = ScreenshotAccess(link)
    shots.allow()
    assert link.take_control() == ['ui.permissions ["<all_urls>"]'] and shots.asking
    assert shots.permission_result({"type": "permission.result", "origins": [ALL_URLS], "granted": True})
    assert shots.any_tab is True and not shots.asking
    assert link.status == "The Screenshot button now works on any tab."
    shots.revoke()
    assert link.take_control() == ['ui.permissions.remove ["<all_urls>"]']
    shots.permission_result({"type": "permission.result", "origins": [ALL_URLS], "revoked": True})
    assert shots.any_tab is False


def test_a_refusal_says_the_button_still_works_where_sidepy_was_opened():
    link = OptionsLink()
    shots = ScreenshotAccess(link)
    shots.allow()
    shots.permission_result({"type": "permission.result", "origins": [ALL_URLS], "granted": False})
    assert link.status == ("Chrome did not allow screenshots of every tab. The Screenshot button still works "
                           "where you open SidePy.")
    assert link.status_kind == "error"


def test_the_page_routes_only_its_own_answer_to_it():
    state = SettingsState()
    other = {"type": "permission.result", "origins": ["https://example.com/*"], "granted": True}
    assert not state.screenshots.permission_result(other)
    state.screenshots.allow()
    state.receive({"type": "permission.result", "origins": [ALL_URLS], "granted": True})
    assert state.screenshots.any_tab is True
