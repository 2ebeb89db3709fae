"""The bot scopes Advocate uses, and why; `manifest.json` declares exactly these."""

BOT_SCOPES: dict[str, str] = {
    "commands": "the /appreciate, /ask and /listen commands and the shortcuts",
    "chat:write": "posting appreciation, DMs and replies",
    "chat:write.public": "posting appreciation in public channels the app has not joined",
    "im:write": "opening a DM with the people it thanks",
    "im:history": "finding its own DM after a crash, so it never sends one twice",
    "channels:history": "finding its own post in a public channel after a crash",
    "groups:history": "finding its own post in a private channel after a crash",
    "users:read": "each person's timezone, and telling people from bots and leavers",
    "channels:read": "checking that the digest channel exists and who is in a channel",
    "groups:read": "the same for a private digest or check-in channel",
    "channels:join": "joining the public digest channel by itself",
    "reactions:read": "appreciation by emoji reaction (reaction_added, reaction_removed)",
    "usergroups:read": "the teams (user groups) of the insights page's collaboration map",
}


def missing(granted: set[str]) -> list[str]:
    return sorted(set(BOT_SCOPES) - granted)
