"""Hypothesis strategies and the shared budget of the unit tests."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from mlgit.cid import cid_of

#: a fixed budget: the formats are small; 60 examples find the edge cases and keep the suite fast
UNIT = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

cids = st.binary(max_size=16).map(cid_of)
#: one path component a user may give a file: no '/', no backslash, no control character, valid UTF-8
component = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\\x7f"), min_size=1, max_size=12
).filter(lambda c: c not in (".", ".."))
#: a workspace-relative path; "x:..." (a second character ':') is left out: safe_relpath reads it as a
#: Windows drive (see test_names.test_drive_like_names_are_refused_yet_added)
relpaths = st.lists(component, min_size=1, max_size=4).map("/".join).filter(lambda p: p[1:2] != ":")
