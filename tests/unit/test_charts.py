"""Bar charts as geometry: bars scale to the largest total and stay inside the drawing, the parts of
a bar follow each other without gaps, and a right-to-left page gets the exact mirror image."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from booking.charts import LABEL_WIDTH, TOTAL_WIDTH, WIDTH, bar_chart

parts = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(min_value=0, max_value=500)), max_size=4
)
rows = st.lists(st.tuples(st.text(max_size=12), parts), max_size=30)


@given(rows)
def test_bars_stay_inside_the_drawing_and_their_parts_touch(data):
    chart = bar_chart(data)
    largest = max((sum(v for _k, v in p) for _l, p in data), default=0)
    for bar, (_label, given_parts) in zip(chart.bars, data, strict=True):
        assert bar.total == sum(v for _k, v in given_parts)
        assert [s.value for s in bar.segments] == [v for _k, v in given_parts if v]
        x = LABEL_WIDTH
        for segment in bar.segments:
            assert abs(segment.x - x) < 0.02 and segment.width > 0
            x = segment.x + segment.width
        assert x <= WIDTH - TOTAL_WIDTH + 0.02
        if largest and bar.total == largest:
            assert abs(x - (WIDTH - TOTAL_WIDTH)) < 0.05  # the largest bar takes the whole room
    assert chart.height >= len(data) * 26


@given(rows)
def test_right_to_left_is_the_mirror_image(data):
    left, right = bar_chart(data), bar_chart(data, rtl=True)
    for a, b in zip(left.bars, right.bars, strict=True):
        assert b.label_x == WIDTH - a.label_x
        assert abs(b.total_x - (WIDTH - a.total_x)) < 0.02
        for s, t in zip(a.segments, b.segments, strict=True):
            assert abs(t.x - (WIDTH - s.x - s.width)) < 0.02 and t.width == s.width
