"""Groundwork's Streamlit app: `rag ui` starts it (bound to 127.0.0.1 by default)."""

import streamlit as st

st.set_page_config(page_title="Groundwork", layout="wide")
navigation = st.navigation([
    st.Page("views/chat.py", title="Chat", default=True),
    st.Page("views/documents.py", title="Documents"),
    st.Page("views/evaluations.py", title="Evaluations"),
    st.Page("views/tuning.py", title="Tuning"),
    st.Page("views/system.py", title="System"),
])
navigation.run()
