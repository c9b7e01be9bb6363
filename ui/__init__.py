"""Streamlit helpers shared by the pages (sign-in, cached services, error display); kept out of
`pages/` so the navigation never lists them."""
