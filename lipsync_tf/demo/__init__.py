"""`bin/demo`: a web page (Gradio, the optional `demo` extra) to try a model in a browser."""
