"""Groundwork's Streamlit app: `rag ui` starts it (bound to 127.0.0.1 by default)."""

import streamlit as st

st.set_page_config(page_title="Groundwork", layout="wide")
navigation = st.navigation([
    st.Page("pages/chat.py", title="Chat", default=True),
    st.Page("pages/documents.py", title="Documents"),
    st.Page("pages/evaluations.py", title="Evaluations"),
    st.Page("pages/system.py", title="System"),
])
navigation.run()
