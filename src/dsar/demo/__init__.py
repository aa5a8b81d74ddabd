"""The demo company: its shop database, sample requests and the demo driver."""
