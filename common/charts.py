"""
Charts drawn on the server as SVG (pygal), inlined in the page: no script, and no inline style.

pygal writes a `<style>` and a `<script>` into each SVG; the site's Content-Security-Policy allows
neither (style-src 'self', scripts only with a nonce). Both are taken out of every chart, and the
same style sheet is served from this site (`chart_css`, one URL) with its rules scoped to
`.pygal-chart`, so the charts look as pygal draws them. Without the script a chart has no
tooltips: the pages print the figures beside it.
"""

import html
import re
from functools import cache

import pygal
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style

STYLE = Style(
    background="transparent",
    plot_background="#ffffff",
    foreground="#333333",
    foreground_strong="#111111",
    foreground_subtle="#777777",
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif",
    label_font_size=15,
    major_label_font_size=15,
    legend_font_size=16,
    title_font_size=18,
    value_font_size=13,
    colors=("#417690", "#e07b00", "#2e8b57", "#b22222", "#6a5acd", "#8b4513", "#ff69b4", "#708090"),
)
SERIES_STYLED = 32
_STYLE_TAG = re.compile(r"<style[^>]*>.*?</style>", re.S)
_SCRIPT_TAG = re.compile(r"<script[^>]*>.*?</script>", re.S)


def _config(**options) -> dict:
    return {
        "style": STYLE,
        "disable_xml_declaration": True,
        "js": [],
        "width": 480,
        "height": 320,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 2,
        "x_label_rotation": 45,
        "show_minor_x_labels": False,
        "truncate_legend": 24,
        "margin": 12,
        "margin_bottom": 48,  # room for the legend's last row
        "max_scale": 6,
        **options,
    }


def _clean(svg: str) -> SafeString:
    svg = _SCRIPT_TAG.sub("", _STYLE_TAG.sub("", svg))
    # A fixed id per chart would repeat on a page: the style sheet matches the class instead.
    svg = re.sub(r' id="chart-[0-9a-f-]+"', "", svg, count=1)
    return mark_safe(svg)


def line_chart(
    *, title: str, x_labels: list[str], series: dict[str, list], y_title: str = "", every: int = 7
) -> SafeString:
    """Return an SVG line chart of `series` ({name: a value per x label}) as markup to inline."""
    chart = pygal.Line(**_config(title=title, y_title=y_title, x_labels_major_every=every, dots_size=2))
    chart.x_labels = x_labels
    for name, values in series.items():
        chart.add(name, values)
    return _clean(chart.render(is_unicode=True))


def bar_chart(*, title: str, x_labels: list[str], series: dict[str, list], y_title: str = "") -> SafeString:
    """Return an SVG bar chart of `series` ({name: a value per x label}) as markup to inline."""
    chart = pygal.Bar(**_config(title=title, y_title=y_title, x_label_rotation=0, print_values=True))
    chart.x_labels = x_labels
    for name, values in series.items():
        chart.add(name, values)
    return _clean(chart.render(is_unicode=True))


@cache
def chart_css() -> str:
    """Return pygal's style sheet for the charts, its rules scoped to `.pygal-chart`."""
    chart = pygal.Line(**_config())
    for n in range(SERIES_STYLED):  # a rule per series colour: as many as a chart may have
        chart.add(str(n), [0])
    svg = chart.render(is_unicode=True)
    uuid = re.search(r'id="(chart-[0-9a-f-]+)"', svg).group(1)
    css = "".join(_STYLE_TAG.findall(svg))
    # Unescaped: inside the SVG the sheet is XML text ("&gt;" for ">").
    css = html.unescape(re.sub(r"</?style[^>]*>", "", css)).replace(f"#{uuid}", ".pygal-chart")
    return css + LAYOUT


# How the console's pages lay out charts and wide tables (readable at 390 px: tables scroll sideways).
LAYOUT = """
.pygal-chart{width:100%;height:auto;max-width:640px;display:block}
.console-chart{margin:0 0 16px 0;max-width:640px}
.console-table{overflow-x:auto;max-width:100%;margin-bottom:12px}
.console-table td:first-child{white-space:nowrap}
.console-table .quiet{word-break:break-all}
.console-action input[type=text]{width:9em;max-width:100%}
.console-action .button{margin:2px 2px 2px 0}
.console-links .button{display:inline-block;margin:0 8px 8px 0}
"""
