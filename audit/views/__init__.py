"""What people look at: data loading, charts and the static HTML report
(the Streamlit viewer lives in the top-level ``reports/`` folder)."""
