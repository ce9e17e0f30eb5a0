"""The fixed probe texts an int8 artifact is checked with against the fp32 model."""

from __future__ import annotations

#: Short and long, bug, feature and question, with punctuation, code and non-ASCII text.
PROBE_TEXTS: tuple[str, ...] = (
    "app crashes on login",
    "Dark mode please",
    "How do I export my data?",
    "The sync button does nothing since the last update.",
    "Love the new design, but the font is too small on my phone.",
    "Can you add a way to mute notifications for one channel?",
    "Error 500 when uploading a profile picture larger than 2 MB",
    "Why does the app ask for my location every time I open it?",
    "great app",
    "It keeps logging me out every few minutes, very annoying!!!",
    "Please support exporting reports as CSV as well as PDF.",
    "Is there an API to fetch the list of projects?",
    "The search results page freezes the browser tab when more than 500 items match.",
    "Crash: NullPointerException in SettingsActivity.onResume after rotating the screen",
    "Feature request: keyboard shortcuts for the most common actions in the editor",
    "Die App stürzt beim Start ab, seit dem Update auf Version 4.2.",
    "l'application ne se synchronise plus avec mon calendrier",
    "Traceback (most recent call last): File \"main.py\", line 3, in <module> KeyError: 'id'",
    "When I open the settings page after the update the whole window freezes. " * 8,
    "Steps to reproduce: 1. open a project 2. click share 3. choose email. Expected: a mail "
    "draft opens. Actual: nothing happens and the console shows a TypeError about undefined "
    "recipients. This started with 3.1 and happens on Windows and macOS alike.",
    "It would be nice if the dashboard remembered which filters I used last time, so I do not "
    "have to select the same team and date range every morning.",
    "Does the self-hosted version support single sign-on through our existing identity "
    "provider, or is that only in the cloud plan?",
    "ok",
    "👍 works now, thanks",
)
