"""Suite-wide settings.

Property-based tests draw the same examples on every run (``derandomize``), so CI is a
function of the code alone and a red run can be reproduced. Set ``HYPOTHESIS_PROFILE=explore``
to draw fresh random examples when hunting for bugs locally.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
