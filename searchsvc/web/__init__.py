"""The web layer: the Flask app factory, the JSON API and the pages. Nothing below it knows
about HTTP; it knows nothing about engines beyond the port."""
