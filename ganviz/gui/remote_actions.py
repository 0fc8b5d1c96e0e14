"""The window attached to `ganviz serve` (service/serve.py): Server > Connect…, Take control
and Detach, and what the window says while attached. A mixin of MainWindow (main_window.py).

Attached, the window shows the server's run as it shows its own: the server sends the history
so far, then live batches; every control goes to the server. The run's store stays on the
server, so the timeline and the runs list (which read a store on this disk) are not offered
for it. Detach leaves it training there and starts a run of this window's own again.
"""
from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QLineEdit, QMenu, QToolBar, QToolButton

from ganviz.protocol import remote
from ganviz.protocol.remote import DEFAULT_PORT, find_token, parse_address

from .worker import Connecting

TITLE = "ganviz: watch a GAN train"


class RemoteActions:
    """Connect…, Take control, Detach, for MainWindow."""
    controlling = True   # this window's commands are obeyed (its own run, or it controls the server's)
    connecting = None    # a Connecting on its way, until its answer

    def _build_server_menu(self):
        button = QToolButton(objectName="serverButton", text="Server", popupMode=QToolButton.InstantPopup)
        button.setToolTip("Watch and steer a run that `ganviz serve` trains on another machine (or this one)")
        menu = QMenu(button)
        self.connectAction = menu.addAction("Connect to a server…", self.connect_to_server)
        self.connectAction.setObjectName("connectAction")
        self.takeControlAction = menu.addAction("Take control", self.take_control)
        self.takeControlAction.setObjectName("takeControlAction")
        self.detachAction = menu.addAction("Detach (the server trains on)", self.detach)
        self.detachAction.setObjectName("detachAction")
        button.setMenu(menu)
        bar = self.findChild(QToolBar, "trainingToolbar")
        export = next(a for a in bar.actions() if bar.widgetForAction(a) is self.findChild(QToolButton, "exportButton"))
        bar.insertWidget(self._action_after(bar, export), button)
        self.worker.controlChanged.connect(self._on_control)
        self.worker.connectionChanged.connect(self._on_connection)
        self._render_attached()

    @property
    def attached_to(self) -> str | None:
        """HOST:PORT of the server this window is attached to, or None (it trains its own)."""
        return self.worker.transport.address if self.worker.remote else None

    def connect_to_server(self, address: str | None = None, token: str | None = None) -> bool:
        """Attach to `ganviz serve` at `address` (asked in a dialog when not given); once it
        answers, the run trained here until now stops. False: nothing was tried (cancelled, a
        bad address: said in a dialog)."""
        if address is None:
            address, ok = QInputDialog.getText(self, "Connect to a server", "The server's address "
                                               "(HOST:PORT; through an SSH tunnel, its near end):",
                                               text=f"127.0.0.1:{DEFAULT_PORT}")
            if not ok or not address.strip():
                return False
        try:
            port = parse_address(address)[1]
            if token is None and find_token(port) is None:
                token, ok = QInputDialog.getText(self, "Connect to a server", "The token `ganviz serve` printed:",
                                                 QLineEdit.Password)
                if not ok:
                    return False
        except ValueError as e:
            self._show_error(f"Cannot connect: {e}")
            return False
        self.connecting = Connecting(address.strip(), token or None)
        self.connecting.done.connect(self._on_connected)
        self.connectAction.setEnabled(False)
        self.statusBar().showMessage(f"Connecting to {self.connecting.address}… "
                                     f"(up to {remote.CONNECT_TIMEOUT:g} s; this window stays usable meanwhile)")
        return True

    def _on_connected(self, transport, error):
        self.connecting = None
        self.connectAction.setEnabled(True)
        if transport is None:
            self._show_error(f"Cannot connect: {error}")
            return
        self.timeline.detach()
        if not self.worker.switch(transport, folders=False):
            return   # the window closed while it was connecting
        self.controlling = transport.controls
        self._render_attached()
        self._start_loading("attach", transport.address)

    def take_control(self):
        if self.worker.remote:
            self.worker.take_control()

    def detach(self):
        """Leave the server's run training there; this window trains a run of its own again."""
        if not self.worker.remote:
            return
        address = self.attached_to
        self.worker.detach(self.local_transport)
        self.controlling = True
        self._render_attached()
        self._start_loading("reset", self.config.dataset)
        self.worker.reset(self.config)
        self.statusBar().showMessage(f"Detached from {address}: it trains on there", 10000)

    def _on_control(self, controls: bool, windows: int):
        if not self.worker.remote:
            return   # a server's last words, come after Detach: this window's own run is in control
        self.controlling = controls
        self._render_attached(windows)
        if self.session.loading is None and self.run_info is not None:
            self._set_run_controls_enabled(True)   # as far as this window's part allows

    def _on_connection(self, text: str):
        if text:
            self._set_training_actions(False)
            self.statusBar().showMessage(text)
        else:   # the run comes again, as the server's store has it
            self._start_loading("attach", self.attached_to)

    def _render_attached(self, windows: int = 0):
        """The title and the Server menu say where the run trains and whether this window steers it."""
        address = self.attached_to
        self.takeControlAction.setEnabled(bool(address) and not self.controlling)
        self.freshNoiseCheck.setEnabled(self.controlling)   # it changes every window's samples
        self.exploreAction.setEnabled(self.controlling and self.run_info is not None
                                      and self.run_info.dataset_kind != "points")
        self.detachAction.setEnabled(bool(address))
        if not address:
            self.setWindowTitle(TITLE)
            return
        others = f", {windows - 1} other window{'s' if windows != 2 else ''} attached" if windows > 1 else ""
        if self.controlling:
            self.setWindowTitle(f"{TITLE}: controlling the run on {address}{others}")
        else:
            self.setWindowTitle(f"{TITLE}: watching the run on {address}{others} (Server > Take control steers it)")
