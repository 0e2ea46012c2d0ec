"""The panel's actions: connect, disconnect, cameras, attach to a bone, send the selection."""

from __future__ import annotations

import bpy

from ._session import SESSION
from ._vendor.protocols import Batch, CurveKeys, SetActiveCamera, SetParent, SetTransform, StagecraftError
from ._vendor.scene import UUID_KEY


def _prefs(context) -> bpy.types.AddonPreferences:
    return context.preferences.addons[__package__].preferences


def _connected() -> bool:
    return SESSION.sync is not None and SESSION.sync.connected


def _send(operator: bpy.types.Operator, command: object) -> set[str]:
    try:
        SESSION.sync.send(command)
    except StagecraftError as exc:
        operator.report({"ERROR"}, str(exc))
        return {"CANCELLED"}
    return {"FINISHED"}


class STAGECRAFT_OT_connect(bpy.types.Operator):
    """Join the stage at the address in the add-on preferences"""

    bl_idname = "stagecraft.connect"
    bl_label = "Connect"

    def execute(self, context):
        prefs = _prefs(context)
        try:
            curve = (
                CurveKeys.from_dir(bpy.path.abspath(prefs.key_dir), prefs.key_name) if prefs.key_dir else None
            )
        except StagecraftError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        SESSION.connect(prefs.endpoint, curve, prefs.artist_name.strip())
        return {"FINISHED"}


class STAGECRAFT_OT_disconnect(bpy.types.Operator):
    """Stop syncing with the stage (its objects stay in the file)"""

    bl_idname = "stagecraft.disconnect"
    bl_label = "Disconnect"

    def execute(self, context):
        SESSION.disconnect()
        return {"FINISHED"}


class STAGECRAFT_OT_set_active_camera(bpy.types.Operator):
    """Make this camera the stage's active camera (for everyone)"""

    bl_idname = "stagecraft.set_active_camera"
    bl_label = "Set Active Camera"

    uuid: bpy.props.StringProperty()

    @classmethod
    def poll(cls, context):
        return _connected()

    def execute(self, context):
        return _send(self, SetActiveCamera(node=self.uuid))


class STAGECRAFT_OT_look_through(bpy.types.Operator):
    """Look through this camera in this 3D view only"""

    bl_idname = "stagecraft.look_through"
    bl_label = "Look Through"

    uuid: bpy.props.StringProperty()

    def execute(self, context):
        space = context.space_data
        camera = next((o for o in bpy.data.objects if o.get(UUID_KEY) == self.uuid), None)
        if camera is None or space is None or space.type != "VIEW_3D":
            self.report({"ERROR"}, "needs a 3D view and a stage camera")
            return {"CANCELLED"}
        space.use_local_camera = True
        space.camera = camera
        space.region_3d.view_perspective = "CAMERA"
        return {"FINISHED"}


def _bones(self, context):
    armature = context.active_object
    if armature is None or armature.type != "ARMATURE":
        return []
    return [(b.name, b.name, "") for b in armature.data.bones]


class STAGECRAFT_OT_attach_to_bone(bpy.types.Operator):
    """Parent the selected stage props to a bone of the active character"""

    bl_idname = "stagecraft.attach_to_bone"
    bl_label = "Attach to Bone"
    bl_property = "bone"

    bone: bpy.props.EnumProperty(name="Bone", items=_bones)
    keep_world: bpy.props.BoolProperty(name="Keep World Transform", default=True)

    @classmethod
    def poll(cls, context):
        armature = context.active_object
        return _connected() and armature is not None and armature.type == "ARMATURE" and UUID_KEY in armature

    def invoke(self, context, event):
        context.window_manager.invoke_search_popup(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        armature = context.active_object
        props = [o for o in context.selected_objects if o != armature and UUID_KEY in o]
        if not props:
            self.report({"ERROR"}, "select the stage props to attach, then the character last")
            return {"CANCELLED"}
        commands = tuple(
            SetParent(node=o[UUID_KEY], parent=armature[UUID_KEY], bone=self.bone, keep_world=self.keep_world)
            for o in props
        )
        return _send(self, commands[0] if len(commands) == 1 else Batch(commands=commands))


class STAGECRAFT_OT_send_selection(bpy.types.Operator):
    """Send the selected stage objects' transforms to the stage as they are here (yours win)"""

    bl_idname = "stagecraft.send_selection"
    bl_label = "Send Selection"

    @classmethod
    def poll(cls, context):
        return _connected()

    def execute(self, context):
        stage = SESSION.sync.stage
        commands = []
        for obj in context.selected_objects:
            if UUID_KEY in obj:
                t = stage.node_state(obj[UUID_KEY]).transform
                commands.append(
                    SetTransform(node=obj[UUID_KEY], location=t.location, rotation=t.rotation, scale=t.scale)
                )
        if not commands:
            self.report({"ERROR"}, "no stage objects selected")
            return {"CANCELLED"}
        return _send(self, commands[0] if len(commands) == 1 else Batch(commands=tuple(commands)))


OPERATORS = (
    STAGECRAFT_OT_connect,
    STAGECRAFT_OT_disconnect,
    STAGECRAFT_OT_set_active_camera,
    STAGECRAFT_OT_look_through,
    STAGECRAFT_OT_attach_to_bone,
    STAGECRAFT_OT_send_selection,
)
