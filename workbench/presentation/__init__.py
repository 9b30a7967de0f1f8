"""What people look at, on top of the core: plotly figures (:mod:`.charts`), ipywidgets
(:mod:`.widgets`), self-contained HTML reports (:mod:`.reports`), Data Docs made to open offline
(:mod:`.datadocs`), Excel workbooks for reviewers (:mod:`.workbooks`), Splink's chart pages
(:mod:`.splink_charts`) and the headless-browser page checks (:mod:`.browser`).
"""
