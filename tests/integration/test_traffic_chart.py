"""The traffic chart: a real PNG of the expected size whose texts (title, axes, legend, dates and
units) are in the reader's language, as Babel writes them; drawn in threads without shared state."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_skeleton, format_time
from babel.units import format_unit
from matplotlib.text import Text
from PIL import Image

from bot.core import formatting
from bot.core.i18n import use_locale
from bot.documents import Renderer
from bot.documents.traffic_chart import HEIGHT, WIDTH, traffic_figure
from services import traffic
from services.traffic import History, Point

NOW = dt.datetime(2026, 3, 7, 15, 5, tzinfo=dt.UTC)
ZONE = "Europe/Istanbul"


def _history(period: str, peak: int = 3 * 10**9) -> History:
    """Traffic rising through each day to ``peak`` bytes a step, with nothing recorded on the first
    day of the period."""
    p = traffic.PERIODS[period]
    until = traffic.epoch(NOW)
    since = until - int(p.length.total_seconds())
    since -= since % p.step
    points = []
    for start in range(since, until, p.step):
        share = (start % traffic.DAY) / traffic.DAY
        empty = start < since + traffic.DAY and period != "day"
        points.append(
            Point(traffic.moment(start), None, None)
            if empty
            else Point(traffic.moment(start), int(peak * share / 4), int(peak * share))
        )
    return History("web-1", p, tuple(points), 1, 2)


def _figure_texts(history: History, title: str) -> dict[str, list[str]]:
    """The chart's texts in the current language, read from matplotlib's own text objects."""
    figure = traffic_figure(history, title, ZONE)
    figure.canvas.draw()  # tick labels exist once drawn
    axes = figure.axes[0]
    legend = axes.get_legend()
    assert legend is not None
    return {
        "title": [axes.get_title()],
        "x": [axes.get_xlabel()],
        "y": [axes.get_ylabel()],
        "legend": [t.get_text() for t in legend.get_texts()],
        "dates": _shown(axes.get_xticklabels(), axes.get_xticks(), axes.get_xlim()),
        "sizes": _shown(axes.get_yticklabels(), axes.get_yticks(), axes.get_ylim()),
    }


def _shown(labels: list[Text], ticks: Sequence[float], view: tuple[float, float]) -> list[str]:
    """The labels of the ticks inside the axis (the locator may place one beyond)."""
    return [label.get_text() for label, at in zip(labels, ticks, strict=True) if view[0] <= at <= view[1]]


def _texts(history: History, lang: str, title: str) -> dict[str, list[str]]:
    with use_locale(lang):
        return _figure_texts(history, title)


@pytest.mark.parametrize(
    ("lang", "x", "y", "legend"),
    [
        ("en", "Time zone: Europe/Istanbul", "Traffic per hour", ["Incoming", "Outgoing"]),
        ("fr", "Fuseau horaire\u00a0: Europe/Istanbul", "Trafic par heure", ["Entrant", "Sortant"]),
        ("id", "Zona waktu: Europe/Istanbul", "Trafik per jam", ["Masuk", "Keluar"]),
        ("tr", "Saat dilimi: Europe/Istanbul", "Saatlik trafik", ["Gelen", "Giden"]),
    ],
)
def test_week_chart_speaks_the_language(lang: str, x: str, y: str, legend: list[str]) -> None:
    texts = _texts(_history("week"), lang, "titre")
    assert (texts["title"], texts["x"], texts["y"], texts["legend"]) == (["titre"], [x], [y], legend)
    # A tick at each local midnight of the week, written the locale's way ("sam. 7 mars", "7 Mar Cmt").
    zone = ZoneInfo(ZONE)
    first = (NOW - dt.timedelta(days=6)).astimezone(zone).replace(hour=0, minute=0)
    days = [first + dt.timedelta(days=i) for i in range(7)]
    assert texts["dates"] == [format_skeleton("MMMEd", d, tzinfo=zone, locale=lang) for d in days]
    # Bytes in one unit for the whole axis, as CLDR writes it ("Go" in French).
    assert texts["sizes"] == [format_unit(n, "digital-gigabyte", "short", locale=lang) for n in range(4)]


def test_day_and_year_axes() -> None:
    day = _texts(_history("day", peak=5 * 10**6), "en", "t")
    zone = ZoneInfo(ZONE)
    local = NOW.astimezone(zone)
    expected = [format_time(local.replace(hour=h, minute=0), "short", locale="en") for h in range(0, 24, 3)]
    assert sorted(day["dates"]) == sorted(expected) and "3:00\u202fPM" in day["dates"]
    assert day["y"] == ["Traffic per 5 minutes"]
    assert day["sizes"][-1] == format_unit(5, "digital-megabyte", "short", locale="en")
    year = _texts(_history("year"), "fr", "t")
    assert year["y"] == ["Trafic par jour"]
    assert year["dates"][0] == format_skeleton("yMMM", dt.datetime(2025, 4, 1), locale="fr")  # "avr. 2025"
    assert "janv. 2026" in year["dates"] and "févr." in year["dates"] and len(year["dates"]) == 12


def test_the_png_is_what_it_says() -> None:
    title = "Trafic de web-1, 7 derniers jours"
    with use_locale("fr"):
        png = Renderer().traffic_png(_history("week"), title, ZONE)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT) == (1200, 600)
    assert image.info["Title"] == title
    image.load()  # the whole image decodes
    assert len(image.convert("RGB").getcolors(maxcolors=2**24) or []) > 100  # drawn, not blank


async def test_charts_drawn_at_once_in_threads_keep_their_own_language() -> None:
    renderer = Renderer()
    history = _history("month")

    async def draw(lang: str) -> tuple[str, list[str], str]:
        with use_locale(lang):
            title = f"web-1 {lang}"
            png, texts = await asyncio.gather(
                asyncio.to_thread(renderer.traffic_png, history, title, ZONE),
                asyncio.to_thread(_figure_texts, history, title),
            )
        return Image.open(io.BytesIO(png)).info["Title"], texts["y"], texts["dates"][0]

    drawn = await asyncio.gather(*(draw(lang) for lang in ("en", "fr", "id", "tr") * 2))
    assert [title for title, _, _ in drawn] == [f"web-1 {lang}" for lang in ("en", "fr", "id", "tr") * 2]
    assert [y for _, y, _ in drawn] == [
        ["Traffic per 6 hours"],
        ["Trafic par 6 heures"],
        ["Trafik per 6 jam"],
        ["6 saatlik trafik"],
    ] * 2
    first_tick = {lang: _texts(history, lang, "t")["dates"][0] for lang in ("en", "fr", "id", "tr")}
    assert [tick for _, _, tick in drawn] == list(first_tick.values()) * 2
    assert len(set(first_tick.values())) > 1  # the languages write the date differently


def test_data_sizes_are_babels() -> None:
    with use_locale("fr"):
        assert formatting.data_size(1_234_567) == format_unit(1.23, "digital-megabyte", "short", locale="fr")
        assert formatting.data_size(999) == format_unit(999, "digital-byte", "short", locale="fr")
        assert formatting.data_size(2.5 * 10**12) == format_unit(
            2.5, "digital-terabyte", "short", locale="fr"
        )
        assert formatting.data_size(5 * 10**8, scale_of=10**9) == format_unit(
            0.5, "digital-gigabyte", "short", locale="fr"
        )
