import panel as pn
class _Stub(pn.viewable.Viewer):
    def __init__(self, *a, **k):
        super().__init__()
    def __panel__(self):
        return pn.pane.Markdown("# Coming")
ExecutionList = ExecutionPage = Directory = AppPage = Connections = Gallery = Dashboard = SettingsPage = _Stub
