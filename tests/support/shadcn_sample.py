"""The shadcn items the ui tests and benchmarks/compare_ui_shadcn.py compare with the real CLI.

17 items of the official registry in ../shared/peer-data/shadcn-registry (style new-york-v4),
across every kind the CLI installs: ui components with and without registry dependencies, blocks
with pages and nested components, a hook, a lib, a theme, an example.
"""

STYLE = "new-york-v4"
COMPARED = (
    "button",
    "dialog",
    "sidebar",
    "calendar",
    "chart",
    "form",
    "command",
    "carousel",
    "sonner",
    "input-otp",
    "toggle-group",
    "dashboard-01",
    "login-03",
    "sidebar-07",
    "use-mobile",
    "utils",
    "date-picker-demo",
)
