"""What people look at: run data for display, charts, the static HTML report
(``static_report.py``) and the Streamlit viewer (``app.py``, run by ``audit
view``). Streamlit puts this folder first on sys.path, so no module here may
share a name with a library module (``html.py`` once shadowed the stdlib's)."""
