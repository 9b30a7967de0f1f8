"""ipywidgets user interfaces on top of the core package (the core never imports ipywidgets).

- :mod:`workbench.presentation.widgets.review`: the clerical review of uncertain match pairs.
"""

from __future__ import annotations
