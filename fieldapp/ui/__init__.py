"""The tablet's Kivy screens: a thin shell over fieldapp's plain-Python packages.

Call fieldapp.ui.boot.prepare() before anything imports Kivy (it sets the window size and the Chinese
font); fieldapp/__main__.py does.
"""
