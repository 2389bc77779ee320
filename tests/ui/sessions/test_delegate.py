"""How the panel's rows are drawn: a hit's matches bold and what was written escaped; a
chat's title as plain text."""

from __future__ import annotations

from gptlab_desktop.models import utcnow
from gptlab_desktop.services.session_library import SessionSearchResult
from gptlab_desktop.ui.sessions.delegate import row_html
from gptlab_desktop.ui.sessions.model import PanelRole, SessionPanelModel
from tests.ui.sessions.conftest import entry


def test_hit_rows_render_matches_bold_and_escape_what_was_written(qapp) -> None:
    from gptlab_desktop.models import SearchHit

    model = SessionPanelModel()
    one = entry("<i>Tags</i>")
    hit = SearchHit(one.session_id, "m", "x", "use «<b>» & more", utcnow())
    model.set_results([SessionSearchResult(one, (hit,))])
    assert row_html(model.index(0, 0)) == ""  # a session row is drawn as plain text
    assert "use <b>&lt;b&gt;</b> &amp; more" in row_html(model.index(1, 0))


def test_a_chat_row_shows_its_title_as_written_without_markdown(qapp) -> None:
    model = SessionPanelModel()
    model.set_entries([entry("<i>Tags</i> in **HTML**")])
    assert model.index(0, 0).data(PanelRole.TITLE) == "<i>Tags</i> in HTML"
