// Generated from Config/policy.json; a test keeps the two identical.
extension Policy {
    /// The text of `Config/policy.json`.
    static let defaultJSON = #"""
{
  "policy_version": 1,
  "description": "The research data policy (shared/docs/data-policy.md) as the prepare pipeline applies it.",
  "time_shift": {
    "min_days": 365,
    "max_days": 3652
  },
  "review_days": {
    "default_rollover_hour": 4
  },
  "timezone": {
    "store_utc_offset_hours": false
  },
  "excluded": {
    "tables": ["graves", "notetypes", "templates", "tags", "config", "media"],
    "col": ["usn", "ls", "mod", "scm", "dty", "tags", "conf", "models", "decks", "dconf"],
    "notes": ["guid", "csum", "flags", "data", "usn", "mod"],
    "cards": ["flags", "usn", "mod"],
    "revlog": ["usn"],
    "note_types": ["name", "css", "templates", "latex_pre", "latex_post"],
    "decks": ["description"]
  },
  "cards_data_keys": ["s", "d", "dr", "decay", "lrt"],
  "cards_data_time_keys": ["lrt"],
  "deck_name_prefix": "deck-",
  "media": {
    "placeholders": {"image": "image", "audio": "audio", "video": "video", "other": "file"},
    "extensions": {
      "image": ["png", "jpg", "jpeg", "gif", "webp", "svg", "bmp", "tif", "tiff", "avif", "heic", "ico"],
      "audio": ["mp3", "ogg", "oga", "wav", "m4a", "flac", "opus", "aac", "spx", "amr", "wma"],
      "video": ["mp4", "webm", "mkv", "mov", "avi", "ogv", "mpg", "mpeg", "m4v", "3gp", "flv", "wmv"]
    }
  }
}
"""#
}
