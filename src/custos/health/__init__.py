"""Camera health and tamper checks on keyframes tapped from the recorder (HB-17.4, BJ-12.3, HB-18.1, BJ-12.4, CN-23)."""

REFERENCES = "references/"  # where reference views live in storage: references/<camera>/<registration>-<hash>.png|.jpg
