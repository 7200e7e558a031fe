"""The provider kit: what the `local` and `ray` providers share, as public, documented names.

Providers never import each other (an import contract keeps `providers.local`,
`providers.ray` and `providers.kubernetes` independent); what two of them need lives here:

- `records`  atomic JSON record files, tolerant reads, an inter-process file lock, `plain`.
- `machine`  this machine's capacity (host size lowered by `max_*` limits), the family
             catalogue of the model plus a provider block's `instance_family` blocks, node sizes.
- `names`    `file_safe_name`: the object's name (`mlrt_iac.provider.object_name`) checked to be
             usable as a file name.
- `handler`  `KitHandler` (name filled as create records it, reasons on replacements), `public`.
- `pools`    compute_pool rules: inputs checked by the model's node-count rules, creation-only
             arguments, cap log lines.
- `training` the input fingerprint, the training diff (re-train when it moves, with the reason
             from `private["fingerprint_parts"]`), the runtime's job spec, progress lines.
- `network`  `network_rule` / `external_access_integration` handlers kept as records.
- `waiting`  waits that honour `ctx.deadline` (DeadlineExceeded) and Ctrl-C.
- `processes` `ProcessRef`: a started process recorded by pid, start time and boot id, signalled
             only while that identity still holds (a stale pid never hits another program).
- `batch`    `read_many` helpers: one scan per record folder, one read of the process table.
- `service_status` a service read FAILED: the plan's in-place restart with the cause
             (`restart_failed`), the status a create or update plans (`planned_status`).

Defaults and validation rules are not here: they are the model's (`mlrt_iac.model`).
"""
