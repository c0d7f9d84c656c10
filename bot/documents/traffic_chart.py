"""A server's traffic as a PNG chart: incoming and outgoing bytes per step of the period, with the
title, axes, dates and units in the current language.

Only matplotlib's object-oriented API on the Agg canvas: each chart is its own ``Figure``, never
pyplot's global one, so charts can be drawn in worker threads (handlers render off the event loop)
and nothing is left behind between them.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Callable
from zoneinfo import ZoneInfo

from matplotlib import dates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from bot.core import formatting
from bot.core.i18n import gettext as _
from services.errors import N_
from services.traffic import DAY, FIVE_MINUTES, HOUR, History

WIDTH, HEIGHT, DPI = 1200, 600, 100
INCOMING, OUTGOING = "#1f77b4", "#ff7f0e"

# The y axis, by the step of the period's points.
PER_STEP = {
    FIVE_MINUTES: N_("Traffic per 5 minutes"),
    HOUR: N_("Traffic per hour"),
    6 * HOUR: N_("Traffic per 6 hours"),
    DAY: N_("Traffic per day"),
}


def traffic_png(history: History, title: str, tz: str) -> bytes:
    """The chart as a PNG of ``WIDTH`` × ``HEIGHT`` pixels; its title is also in the PNG's text
    (``Title``), so that the file says what it shows."""
    buffer = io.BytesIO()
    traffic_figure(history, title, tz).savefig(buffer, format="png", dpi=DPI, metadata={"Title": title})
    return buffer.getvalue()


def traffic_figure(history: History, title: str, tz: str) -> Figure:
    """The chart before it is saved (its texts can be read back): dates in the time zone ``tz``."""
    zone = ZoneInfo(tz)
    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    points = history.points
    times = [_x(p.at) for p in points] + [_x(points[-1].at + dt.timedelta(seconds=history.period.step))]
    largest = 0
    for label, color, values in (
        (_("Incoming"), INCOMING, [p.bytes_in for p in points]),
        (_("Outgoing"), OUTGOING, [p.bytes_out for p in points]),
    ):
        # A step lasts until the next one; None (nothing recorded) leaves a gap.
        ys = [math.nan if v is None else v for v in values]
        ys.append(ys[-1])
        axes.plot(times, ys, drawstyle="steps-post", color=color, linewidth=1.2, label=label)
        axes.fill_between(times, ys, step="post", color=color, alpha=0.15, linewidth=0)
        largest = max([largest, *(v for v in values if v is not None)])
    axes.set_title(title)
    axes.set_ylabel(_(PER_STEP[history.period.step]))
    axes.set_xlabel(_("Time zone: {zone}").format(zone=tz))
    axes.set_xlim(times[0], times[-1])
    axes.set_ylim(bottom=0, top=max(largest * 1.1, 1))
    axes.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    top = axes.get_yticks()[-1] if largest else 1
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: formatting.data_size(v, top)))
    locator, label_of = _time_axis(history.period.name, zone)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, pos: label_of(_moment(x, zone), pos)))
    axes.grid(True, color="#dddddd", linewidth=0.6)
    axes.legend(loc="upper left")
    return figure


# matplotlib's dates are floats; its date functions have no type hints.
def _x(at: dt.datetime) -> float:
    return float(dates.date2num(at))  # type: ignore[no-untyped-call]


def _moment(x: float, zone: ZoneInfo) -> dt.datetime:
    moment: dt.datetime = dates.num2date(x, zone)  # type: ignore[no-untyped-call]
    return moment


def _time_axis(
    period: str, zone: ZoneInfo
) -> tuple[dates.DateLocator, Callable[[dt.datetime, int | None], str]]:
    """Where the ticks of a period's time axis go (local midnights, hours, months) and their labels."""
    name = str(zone)
    locator: dates.DateLocator
    if period == "day":
        locator = dates.HourLocator(byhour=range(0, 24, 3), tz=zone)  # type: ignore[no-untyped-call]
        return locator, lambda t, _: formatting.clock_time(t, name)
    if period == "week":
        locator = dates.DayLocator(tz=zone)  # type: ignore[no-untyped-call]
        return locator, lambda t, _: formatting.date_fields(t, "MMMEd", name)
    if period == "month":
        locator = dates.DayLocator(interval=3, tz=zone)  # type: ignore[no-untyped-call]
        return locator, lambda t, _: formatting.date_fields(t, "MMMd", name)

    def month(t: dt.datetime, pos: int | None) -> str:
        """The year only where it starts and on the first label."""
        return formatting.date_fields(t, "yMMM" if pos == 0 or t.month == 1 else "MMM", name)

    locator = dates.MonthLocator(tz=zone)  # type: ignore[no-untyped-call]
    return locator, month
