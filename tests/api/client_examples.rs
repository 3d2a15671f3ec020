//! Every example in client-examples/ runs against a real app.
