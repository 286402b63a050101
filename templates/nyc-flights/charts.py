"""How the NYC flights report draws its charts: one function per chart declared in report.toml, named by its id.

Every chart draws a declared table of the edition (`kit.table`), so a chart shows the numbers the tables print.
Each plotted row carries `name` (what the bar or point is), `value` and `text` (the value as the report prints it
in a table): the engine writes the chart's text alternative from those. A row whose value the data does not give
(a rate over zero flights) is left out rather than drawn as zero. The engine adds title, size, theme and numbering.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from pipeline.lib.charts import PALETTE, ChartKit

ACCENT, SECOND = PALETTE[0], PALETTE[1]


def _rows(kit: ChartKit, table_id: str, name: str, value: str, unit: str) -> pd.DataFrame:
    """The rows of a table to plot: name, value, and the value as a table cell prints it; rows without a value
    (a formula over zero) are dropped."""
    frame = kit.table(table_id)
    frame = frame[frame[value].notna()].copy()
    frame["name"] = frame[name].astype(str)
    frame["value"] = frame[value].astype(float)
    frame["text"] = [kit.cell_text(v, unit) for v in frame["value"]]
    return frame[["name", "value", "text"]].reset_index(drop=True)


def _bars(frame: pd.DataFrame, y_title: str, horizontal: bool = False, color: str = ACCENT,
          labels: bool = True, axis: str = "name", x_title: str | None = None) -> alt.LayerChart | alt.Chart:
    """Bars in the frame's row order, one colour, each labelled with its value as printed. `axis` names the
    column the category axis prints (a short form of `name`, which the text alternative reads)."""
    tooltip = [alt.Tooltip("name:N", title="Item"), alt.Tooltip("text:N", title="Value")]
    category: alt.X | alt.Y = alt.X(f"{axis}:N", title=x_title, sort=None, axis=alt.Axis(labelAngle=0))
    value: alt.X | alt.Y = alt.Y("value:Q", title=y_title)
    if horizontal:
        category, value = alt.Y("name:N", title=None, sort=None), alt.X("value:Q", title=y_title)
    base = alt.Chart(frame)
    bars = base.mark_bar(color=color).encode(category, value, tooltip=tooltip)
    if not labels:
        return bars
    style = {"align": "left", "dx": 3} if horizontal else {"baseline": "bottom", "dy": -2}
    return bars + base.mark_text(**style).encode(category, value, text="text:N")


def _dated(kit: ChartKit, table_id: str, value: str, unit: str) -> pd.DataFrame:
    frame = _rows(kit, table_id, "date", value, unit)
    frame["date"] = frame["name"]
    return frame


def airport_flights(kit: ChartKit) -> alt.LayerChart | alt.Chart:
    frame = kit.table("airports")
    rows = _rows(kit, "airports", "origin", "scheduled", "flights")
    rows["name"] = [f"{code} {name}" for code, name in zip(frame["origin"], frame["name"], strict=True)]
    return _bars(rows, "Flights scheduled")


def daily_flights(kit: ChartKit) -> alt.LayerChart | alt.Chart:
    frame = _dated(kit, "daily", "scheduled", "flights")
    tooltip = [alt.Tooltip("name:N", title="Date"), alt.Tooltip("text:N", title="Flights")]
    points = alt.OverlayMarkDef(size=14) if len(frame) <= 62 else False  # a year of points is only noise
    return alt.Chart(frame).mark_line(point=points, color=ACCENT).encode(
        alt.X("date:T", title=None, axis=alt.Axis(format="%d %b", labelAngle=0)),
        alt.Y("value:Q", title="Flights scheduled", scale=alt.Scale(zero=True)), tooltip=tooltip)


def weekday_flights(kit: ChartKit) -> alt.LayerChart | alt.Chart:
    return _bars(_rows(kit, "weekdays", "weekday", "flights_per_day", "number"), "Flights per day")


def arrival_delay_bands(kit: ChartKit) -> alt.LayerChart | alt.Chart:
    return _bars(_rows(kit, "delay_bands", "band", "share", "percent"), "Share of arrivals (%)")


def hourly_departure_delay(kit: ChartKit) -> alt.LayerChart | alt.Chart:
    rows = _rows(kit, "hours", "hour", "dep_delay_mean", "minutes")
    hours = [int(h) for h in kit.table("hours").dropna(subset=["dep_delay_mean"])["hour"]]
    rows["name"] = [f"{h:02d}:00" for h in hours]
    rows["hour"] = [f"{h:02d}" for h in hours]
    return _bars(rows, "Mean departure delay (min)", color=SECOND, labels=False, axis="hour",
                 x_title="Scheduled hour of departure")


def daily_cancellations(kit: ChartKit) -> alt.LayerChart | alt.Chart:
    frame = _dated(kit, "daily", "cancelled", "flights")
    tooltip = [alt.Tooltip("name:N", title="Date"), alt.Tooltip("text:N", title="Cancelled")]
    return alt.Chart(frame).mark_bar(color=SECOND).encode(
        alt.X("date:T", title=None, axis=alt.Axis(format="%d %b", labelAngle=0)),
        alt.Y("value:Q", title="Flights cancelled"), tooltip=tooltip)


def carrier_on_time(kit: ChartKit) -> alt.LayerChart | alt.Chart:
    rows = _rows(kit, "carriers", "name", "on_time_rate", "percent")
    return _bars(rows.sort_values("value", ascending=False, kind="stable"), "On-time arrivals (%)", horizontal=True)


def top_destinations(kit: ChartKit) -> alt.LayerChart | alt.Chart:
    frame = kit.table("destinations")
    rows = _rows(kit, "destinations", "dest", "scheduled", "flights")
    rows["name"] = [f"{code} {name}" for code, name in zip(frame["dest"], frame["name"], strict=True)]
    return _bars(rows, "Flights scheduled", horizontal=True)


def weather_delays(kit: ChartKit) -> alt.LayerChart | alt.Chart:
    frame = kit.table("weather").dropna(subset=["delayed_departure_rate"])
    rows = _rows(kit, "weather", "band", "delayed_departure_rate", "percent")
    rows["name"] = [f"{factor}: {band}" for factor, band in zip(frame["factor"], frame["band"], strict=True)]
    return _bars(rows, "Departures delayed 15 min or more (%)", horizontal=True, color=SECOND)


def fleet_age(kit: ChartKit) -> alt.LayerChart | alt.Chart:
    return _bars(_rows(kit, "fleet_age", "band", "aircraft", "aircraft"), "Aircraft flown")


def seat_bands(kit: ChartKit) -> alt.LayerChart | alt.Chart:
    return _bars(_rows(kit, "seat_bands", "band", "flights", "flights"), "Flights")


def _monthly(kit: ChartKit, value: str, unit: str) -> pd.DataFrame:
    rows = _rows(kit, "months", "month", value, unit)
    rows["name"] = [kit.locale.period_label(m) for m in kit.table("months").dropna(subset=[value])["month"]]
    return rows


def monthly_flights(kit: ChartKit) -> alt.LayerChart | alt.Chart:
    rows = _monthly(kit, "scheduled", "flights")
    rows["name"] = [n.split()[0][:3] for n in rows["name"]]  # Jan … Dec: twelve labels fit under the bars
    return _bars(rows, "Flights scheduled", labels=False)


def monthly_on_time(kit: ChartKit) -> alt.LayerChart | alt.Chart:
    on_time = _monthly(kit, "on_time_rate", "percent").assign(series="On-time arrivals")
    cancelled = _monthly(kit, "cancellation_rate", "percent").assign(series="Flights cancelled")
    frame = pd.concat([on_time, cancelled], ignore_index=True)
    frame["month"] = [n.split()[0][:3] for n in frame["name"]]
    tooltip = [alt.Tooltip("name:N", title="Month"), alt.Tooltip("series:N", title="Series"),
               alt.Tooltip("text:N", title="Value")]
    return alt.Chart(frame).mark_line(point=True).encode(
        alt.X("month:N", title=None, sort=None, axis=alt.Axis(labelAngle=0)),
        alt.Y("value:Q", title="Share of flights (%)", scale=alt.Scale(domain=[0, 100])),
        alt.Color("series:N", title=None, scale=alt.Scale(range=[ACCENT, SECOND])), tooltip=tooltip)
