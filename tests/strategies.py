"""Hypothesis strategies for market identifiers."""

from __future__ import annotations

from hypothesis import strategies as st

from openmhhs.ids import GSP_GROUPS, MpanCore, mpan_check_digit

digits = st.text(alphabet="0123456789", min_size=12, max_size=12)

mpan_stems = digits
mpan_cores = mpan_stems.map(lambda stem: stem + str(mpan_check_digit(stem)))
valid_mpans = mpan_cores.map(MpanCore)
dip_ids = st.text(alphabet="0123456789abcdefABCDEF", min_size=10, max_size=10)
dip_roles = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=5)
mpids = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=4, max_size=4)
market_roles = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=2)
gsp_groups = st.sampled_from(GSP_GROUPS)
company_numbers = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=8, max_size=10)
