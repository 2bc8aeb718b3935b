-- Argo CD health check for serving.dllm.dev/DLLMService, read from the conditions the operator
-- writes (api/v1alpha1/conditions.go). Argo CD runs checks from argocd-cm with only the base,
-- package, table and a restricted os library, so this script uses no string library.
--
-- 1. No status yet: Progressing.
-- 2. Degraded=True, stamped with the current generation: Degraded, with its reason and message.
--    It comes before the generation check because a failed apply (reason ApplyFailed, e.g.
--    KEDA asked for but not installed) holds status.observedGeneration at the last generation
--    that took effect: checked after it, a permanent failure would read Progressing forever.
-- 3. status.observedGeneration behind metadata.generation: Progressing.
-- 4. QualityDegraded=True: Degraded. The operator sets it only in Autotune mode, when the
--    settings in force measured below the quality floor and it has nothing safer left within
--    the bounds to revert to. The Pods still answer, but below the quality the spec asks for,
--    and only a person can fix that (widen the bounds, lower the floor, or turn the cache off):
--    Healthy would hide it.
-- 5. Ready=True: Healthy.
-- 6. Ready=False with reason ScaledToZero: Suspended.
-- 7. Otherwise Progressing, with the Ready condition's reason and message (Downloading,
--    Loading, NoReadyReplicas, ...), or the Progressing condition's.

local function findCondition(conditions, conditionType)
  for _, c in ipairs(conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

local function describe(c)
  local reason = c.reason or c.type
  if c.message ~= nil and c.message ~= "" then
    return reason .. ": " .. c.message
  end
  return reason
end

local hs = {}
local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  generation = obj.metadata.generation
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the latest spec"
  return hs
end
local conditions = obj.status.conditions or {}

local degraded = findCondition(conditions, "Degraded")
if degraded ~= nil and degraded.status == "True"
    and (degraded.observedGeneration == nil or degraded.observedGeneration >= generation) then
  hs.status = "Degraded"
  hs.message = describe(degraded)
  return hs
end

if obj.status.observedGeneration == nil or obj.status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the latest spec"
  return hs
end

local quality = findCondition(conditions, "QualityDegraded")
if quality ~= nil and quality.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(quality)
  return hs
end

local ready = findCondition(conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end
if ready ~= nil and ready.reason == "ScaledToZero" then
  hs.status = "Suspended"
  hs.message = describe(ready)
  return hs
end

hs.status = "Progressing"
if ready ~= nil then
  hs.message = describe(ready)
else
  local progressing = findCondition(conditions, "Progressing")
  if progressing ~= nil then
    hs.message = describe(progressing)
  else
    hs.message = "Waiting for the operator to report the service's conditions"
  end
end
return hs
