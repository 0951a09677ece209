"""Streamlit helpers shared by the pages: widgets, the measuring wrapper, and pure Plotly figure builders."""
