"""The sidebar (N-panel) tab "Stagecraft", and the add-on preferences it reads."""

from __future__ import annotations

import bpy

from ._session import SESSION
from ._vendor.scene import UUID_KEY


class StagecraftPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    endpoint: bpy.props.StringProperty(
        name="Stage Address",
        description="The stage's command endpoint (stagecraft serve prints it)",
        default="tcp://127.0.0.1:5555",
    )
    key_dir: bpy.props.StringProperty(
        name="Keys Folder",
        description="For a stage beyond loopback: the folder `stagecraft keys generate` wrote "
        "(server.key and your NAME.key_secret); empty for a local stage",
        subtype="DIR_PATH",
    )
    key_name: bpy.props.StringProperty(
        name="Key Name",
        description="Your client key's name in the keys folder",
        default="client",
    )
    artist_name: bpy.props.StringProperty(
        name="Your Name",
        description="How the other artists see you: in their panel, their viewport and their conflicts",
        default="",
    )

    def draw(self, context):
        self.layout.prop(self, "artist_name")
        self.layout.prop(self, "endpoint")
        self.layout.prop(self, "key_dir")
        self.layout.prop(self, "key_name")


class VIEW3D_PT_stagecraft(bpy.types.Panel):
    bl_label = "Stagecraft"
    bl_idname = "VIEW3D_PT_stagecraft"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Stagecraft"

    def draw(self, context):
        layout = self.layout
        prefs = context.preferences.addons[__package__].preferences
        layout.prop(prefs, "endpoint", text="")
        layout.prop(prefs, "key_dir", text="Keys")
        sync = SESSION.sync
        state = "disconnected" if sync is None else sync.status.state
        row = layout.row()
        if state == "disconnected":
            row.operator("stagecraft.connect", icon="LINKED")
        else:
            row.operator("stagecraft.disconnect", icon="UNLINKED")
        if sync is None:
            return
        status = sync.status
        box = layout.box()
        box.label(text=f"{state} {status.stage}".strip())
        box.label(text=f"seq {status.applied_seq}, lag {status.lag} events")
        if status.conflict:
            box.label(text=status.conflict, icon="INFO")
        for peer in status.peers:
            picked = ", ".join(peer.selection) if peer.selection else "nothing selected"
            box.label(text=f"{peer.name}: {picked}", icon="USER")
        if status.last_error:
            box.label(text=status.last_error, icon="ERROR")
        self._cameras(layout, context, sync)
        layout.operator("stagecraft.attach_to_bone", icon="BONE_DATA")
        layout.operator("stagecraft.send_selection", icon="EXPORT")

    def _cameras(self, layout, context, sync) -> None:
        cameras = [n for n in sync.known_nodes() if n.kind == "camera"]
        if not cameras:
            return
        col = layout.column(align=True)
        col.label(text="Cameras")
        active = context.scene.camera.get(UUID_KEY) if context.scene.camera else None
        for node in cameras:
            row = col.row(align=True)
            row.label(text=node.name, icon="VIEW_CAMERA" if node.uuid == active else "CAMERA_DATA")
            row.operator("stagecraft.look_through", text="", icon="HIDE_OFF").uuid = node.uuid
            row.operator("stagecraft.set_active_camera", text="", icon="OUTLINER_OB_CAMERA").uuid = node.uuid
        camera = context.scene.camera
        if camera is not None and camera.type == "CAMERA" and UUID_KEY in camera:
            col = layout.column(align=True)
            col.label(text=f"Active: {camera.name}")
            col.prop(camera.data, "lens")
            col.prop(camera.data.dof, "use_dof")
            col.prop(camera.data.dof, "aperture_fstop")
            col.prop(camera.data.dof, "focus_distance")
            col.prop(camera.data.dof, "focus_object")
