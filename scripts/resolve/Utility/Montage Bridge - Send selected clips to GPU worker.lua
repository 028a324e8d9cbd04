-- Montage Bridge: send the selected clips to the remote GPU worker.
-- A DaVinci Resolve Workspace > Scripts entry in Lua (Resolve's Lua 5.1), for every edition:
-- Resolve 21.1 runs Python menu scripts only in Studio. Installed by `montage-bridge resolve install`,
-- which fills in MB_COMMAND below; the logic lives in resolve_bridge/lua_template.py.

local MB_COMMAND = { "montage-bridge" }  -- the montage-bridge CLI, as argv words (set by the installer)
local MB_ACTION = "gpu"
local MB_TITLE = "Montage Bridge - Send selected clips to GPU worker"
local PREFIX = "[Montage Bridge] "

-- ------------------------------------------------------------------ output: window or console

local lines = {}
local window, items, dispatcher = nil, nil, nil

local function say(text)
  text = tostring(text)
  print(PREFIX .. text)
  lines[#lines + 1] = text
  if items and items.Log then
    items.Log.PlainText = table.concat(lines, "\n")
  end
end

local function open_window()
  -- Fusion's UIManager (Workflow Integrations README); absent outside Resolve: print only.
  local fu_app = rawget(_G, "fu") or rawget(_G, "fusion")
  local bmd_lib = rawget(_G, "bmd")
  local ui = fu_app and fu_app.UIManager
  if not ui or not bmd_lib or not bmd_lib.UIDispatcher then
    return
  end
  dispatcher = bmd_lib.UIDispatcher(ui)
  window = dispatcher:AddWindow({ ID = "MontageBridge", WindowTitle = MB_TITLE, Geometry = { 200, 200, 620, 360 } },
    ui:VGroup({
      ui:TextEdit({ ID = "Log", ReadOnly = true }),
      ui:Button({ ID = "OK", Text = "Close" }),
    }))
  items = window:GetItems()
  window.On.OK.Clicked = function() dispatcher:ExitLoop() end
  window.On.MontageBridge.Close = function() dispatcher:ExitLoop() end
  window:Show()
end

local function close_window()
  if window then
    dispatcher:RunLoop()
    window:Hide()
  end
end

-- ------------------------------------------------------------------ small helpers

local WINDOWS = package.config:sub(1, 1) == "\\"

local function quote(word)
  word = tostring(word)
  if WINDOWS then
    return '"' .. word:gsub('"', '\\"') .. '"'
  end
  return "'" .. word:gsub("'", "'\\''") .. "'"
end

local function json_string(s)
  s = tostring(s or "")
  s = s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    return string.format("\\u%04x", c:byte())
  end)
  return '"' .. s .. '"'
end

local function split_tabs(line)
  local out = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    out[#out + 1] = field
  end
  return out
end

local function temp_dir()
  local base = os.getenv("TMPDIR") or os.getenv("TEMP") or os.getenv("TMP") or "/tmp"
  local name = os.tmpname():gsub("^.*[/\\]", "")
  local dir = base .. (WINDOWS and "\\" or "/") .. "montage-bridge-" .. name
  os.execute((WINDOWS and "mkdir " or "mkdir -p ") .. quote(dir))
  return dir
end

local function file_exists(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

local function count(list)
  if type(list) ~= "table" then return 0 end
  return #list
end

-- ------------------------------------------------------------------ Resolve

local function get_resolve()
  local r = rawget(_G, "resolve")
  if r then return r end
  local ctor = rawget(_G, "Resolve")
  if type(ctor) == "function" then
    r = ctor()
    if r then return r end
  end
  local bmd_lib = rawget(_G, "bmd")
  if bmd_lib and bmd_lib.scriptapp then
    r = bmd_lib.scriptapp("Resolve")
    if r then return r end
  end
  local fusion_app = rawget(_G, "app")
  if fusion_app and fusion_app.GetResolve then
    return fusion_app:GetResolve()
  end
  return nil
end

local function has_method(obj, name)
  -- dir() has no Lua twin; Resolve's objects answer nil for an unknown method, so ask for it.
  local ok, value = pcall(function() return obj[name] end)
  return ok and value ~= nil
end

local PROPERTY_KEYS = { "Clip Name", "File Path", "Type", "FPS", "Frames", "Start TC", "Drop frame",
  "Resolution", "Audio Ch", "Sample Rate", "Duration" }

local function clip_records(clips, bin_name)
  local parts = {}
  for _, clip in ipairs(clips) do
    local fields = {
      json_string("bin") .. ":" .. json_string(bin_name),
      json_string("unique_id") .. ":" .. json_string(clip:GetUniqueId()),
      json_string("name") .. ":" .. json_string(clip:GetName()),
    }
    for _, key in ipairs(PROPERTY_KEYS) do
      fields[#fields + 1] = json_string(key) .. ":" .. json_string(clip:GetClipProperty(key))
    end
    parts[#parts + 1] = "{" .. table.concat(fields, ",") .. "}"
  end
  return "[" .. table.concat(parts, ",") .. "]"
end

local function walk(folder, out)
  for _, clip in ipairs(folder:GetClipList() or {}) do out[#out + 1] = clip end
  for _, sub in ipairs(folder:GetSubFolderList() or {}) do walk(sub, out) end
  return out
end

local function timeline_names(project)
  local names = {}
  for i = 1, project:GetTimelineCount() or 0 do
    local t = project:GetTimelineByIndex(i)
    if t then names[t:GetName()] = true end
  end
  return names
end

local function unique_name(project, wanted)
  -- ImportTimelineFromFile answers nil when the name exists: never reuse one.
  local taken = timeline_names(project)
  local name, n = wanted, 2
  while taken[name] do
    name = wanted .. " " .. n
    n = n + 1
  end
  return name
end

-- ------------------------------------------------------------------ the CLI

local function run_cli(args)
  local words = {}
  for _, w in ipairs(MB_COMMAND) do words[#words + 1] = quote(w) end
  for _, w in ipairs(args) do words[#words + 1] = quote(w) end
  local cmd = table.concat(words, " ") .. " 2>&1"
  if WINDOWS then cmd = '"' .. cmd .. '"' end
  local pipe = io.popen(cmd, "r")
  if not pipe then
    return false, "could not start " .. tostring(MB_COMMAND[1])
  end
  local tail = {}
  for line in pipe:lines() do
    local progress = line:match("^progress: (.*)$")
    if progress then
      say(progress)
    elseif line ~= "" then
      tail[#tail + 1] = line
      if #tail > 5 then table.remove(tail, 1) end
    end
  end
  pipe:close()
  return true, table.concat(tail, " | ")
end

local function read_answer(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local answer = { clips = {}, markers = {}, notes = {} }
  for line in f:lines() do
    local row = split_tabs(line)
    local kind = row[1]
    if kind == "clip" then
      answer.clips[#answer.clips + 1] = { kind = row[2], index = tonumber(row[3]), record = tonumber(row[4]),
        duration = tonumber(row[5]), source_in = tonumber(row[6]), label = row[7] }
    elseif kind == "marker" then
      answer.markers[#answer.markers + 1] = row
    elseif kind == "note" or kind == "skipped" then
      answer.notes[#answer.notes + 1] = row[2]
    else
      answer[kind] = row[2]
    end
  end
  f:close()
  return answer
end

-- ------------------------------------------------------------------ verification (as apply.verify)

local function verify(timeline, expected, check_source)
  local tracks, order = {}, {}
  for _, c in ipairs(expected) do
    local key = c.kind .. "\t" .. c.index
    if not tracks[key] then
      tracks[key] = { kind = c.kind, index = c.index, clips = {} }
      order[#order + 1] = key
    end
    local list = tracks[key].clips
    list[#list + 1] = c
  end
  local placed, problems = 0, {}
  for _, key in ipairs(order) do
    local track = tracks[key]
    table.sort(track.clips, function(a, b) return a.record < b.record end)
    local got = timeline:GetItemListInTrack(track.kind, track.index) or {}
    local quick = #got == #track.clips
    if quick then
      for k, c in ipairs(track.clips) do
        local item = got[k]
        if item:GetEnd() ~= c.record + c.duration or (check_source and item:GetLeftOffset() ~= c.source_in) then
          quick = false
          break
        end
      end
    end
    if quick then
      placed = placed + #track.clips
    else
      local by_start = {}
      for _, item in ipairs(got) do
        if item:GetMediaPoolItem() then
          local s = item:GetStart()
          if by_start[s] == nil then by_start[s] = item end
        end
      end
      for _, c in ipairs(track.clips) do
        local item = by_start[c.record]
        if item == nil then
          problems[#problems + 1] = "dropped: " .. c.label
        else
          by_start[c.record] = nil
          local wrong = {}
          if item:GetDuration() ~= c.duration then
            wrong[#wrong + 1] = "duration " .. item:GetDuration() .. " ~= " .. c.duration
          end
          if item:GetLeftOffset() ~= c.source_in then
            wrong[#wrong + 1] = "source in " .. item:GetLeftOffset() .. " ~= " .. c.source_in
          end
          if #wrong > 0 then
            problems[#problems + 1] = "wrong: " .. c.label .. ": " .. table.concat(wrong, ", ")
          else
            placed = placed + 1
          end
        end
      end
      for start, item in pairs(by_start) do
        problems[#problems + 1] = "wrong: unexpected item " .. item:GetName() .. " on " ..
          track.kind:sub(1, 1):upper() .. track.index .. " at frame " .. start
      end
    end
  end
  return placed, problems
end

-- ------------------------------------------------------------------ actions

local function project_and_pool(resolve)
  local manager = resolve:GetProjectManager()
  local project = manager and manager:GetCurrentProject()
  if not project then error("Resolve has no project open - open or create a project and run again", 0) end
  return project, project:GetMediaPool()
end

local function version_words(resolve)
  local product = resolve:GetProductName() or "DaVinci Resolve"
  local version = resolve:GetVersionString() or ""
  return { "--product", product, "--resolve-version", version }
end

local function gather_bin(pool)
  local folder = pool:GetCurrentFolder() or pool:GetRootFolder()
  local root = pool:GetRootFolder()
  local name = folder:GetName()
  if root and root:GetName() == name then name = "" end
  local clips = walk(folder, {})
  if #clips == 0 then error("media pool bin '" .. folder:GetName() .. "' holds no clips", 0) end
  return clips, name
end

local function ask_cli(resolve, action, records)
  local dir = temp_dir()
  local sep = WINDOWS and "\\" or "/"
  local request, answer_path = dir .. sep .. "records.json", dir .. sep .. "answer.tsv"
  local f = assert(io.open(request, "w"))
  f:write(records)
  f:close()
  local args = { "resolve", "menu-run", action, "--records", request, "--out", dir }
  for _, w in ipairs(version_words(resolve)) do args[#args + 1] = w end
  local started, tail = run_cli(args)
  local answer = started and read_answer(answer_path) or nil
  if not answer then
    error("montage-bridge did not answer (" .. (tail ~= "" and tail or "is it installed?") ..
      ") - run `montage-bridge resolve install` again from its environment", 0)
  end
  if answer.error then error(answer.error, 0) end
  return answer
end

local function auto_edit(resolve)
  local project, pool = project_and_pool(resolve)
  local clips, bin_name = gather_bin(pool)
  say("read " .. #clips .. " clip(s) from the current bin")
  local answer = ask_cli(resolve, "auto_edit", clip_records(clips, bin_name))
  for _, note in ipairs(answer.notes) do say("note: " .. note) end
  local name = unique_name(project, answer.timeline_name or "Montage")
  local options = { timelineName = name, importSourceClips = true }
  if answer.source_clips_path and answer.source_clips_path ~= "" then
    options.sourceClipsPath = answer.source_clips_path
  end
  say("importing " .. answer.import_file .. " as '" .. name .. "'")
  local timeline = pool:ImportTimelineFromFile(answer.import_file, options)
  if not timeline then
    error("Resolve could not import " .. answer.import_file .. " (ImportTimelineFromFile returned nothing): " ..
      "a source file may have moved - check the media paths", 0)
  end
  project:SetCurrentTimeline(timeline)
  local placed, problems = verify(timeline, answer.clips, true)
  -- Markers the import already brought are kept (and counted), as apply.add_markers does.
  local existing, added = timeline:GetMarkers() or {}, 0
  for _, m in ipairs(answer.markers) do
    local frame = tonumber(m[2])
    if existing[frame] or timeline:AddMarker(frame, m[3], m[4], m[5], tonumber(m[6]), m[7]) then added = added + 1 end
  end
  say("timeline '" .. name .. "' (import): " .. placed .. "/" .. #answer.clips .. " clips placed, " ..
    added .. "/" .. #answer.markers .. " markers")
  for _, p in ipairs(problems) do say(p) end
  return #problems == 0 and placed == #answer.clips
end

local function analyze(resolve)
  local _, pool = project_and_pool(resolve)
  local clips, bin_name = gather_bin(pool)
  say("analyzing " .. #clips .. " clip(s) from the current bin")
  local answer = ask_cli(resolve, "analyze", clip_records(clips, bin_name))
  local by_id = {}
  for _, clip in ipairs(clips) do by_id[clip:GetUniqueId()] = clip end
  local added, refused, touched = 0, 0, {}
  for _, m in ipairs(answer.markers) do
    local clip = by_id[m[2]]
    if clip then
      if not touched[m[2]] then
        -- Re-running replaces our own markers and never touches the editor's.
        for frame, info in pairs(clip:GetMarkers() or {}) do
          if tostring(info.customData or ""):sub(1, 15) == "montage-bridge:" then clip:DeleteMarkerAtFrame(frame) end
        end
        touched[m[2]] = true
      end
      if clip:AddMarker(tonumber(m[3]), m[4], m[5], m[6], 1, m[7]) then added = added + 1 else refused = refused + 1 end
    end
  end
  say("added " .. added .. " marker(s)" .. (refused > 0 and (", " .. refused .. " refused") or ""))
  for _, note in ipairs(answer.notes) do say("skipped: " .. note) end
  return true
end

local EXPORTS = {
  { "OTIO", "EXPORT_OTIO", nil, ".otio" },
  { "FCPXML 1.10", "EXPORT_FCPXML_1_10", nil, ".fcpxmld" },
  { "FCP 7 XML", "EXPORT_FCP_7_XML", nil, ".xml" },
  { "EDL", "EXPORT_EDL", "EXPORT_NONE", ".edl" },
}

local function export(resolve)
  local project = project_and_pool(resolve)
  local timeline = project:GetCurrentTimeline()
  if not timeline then error("no timeline is open - open the timeline to export", 0) end
  local home = os.getenv("HOME") or os.getenv("USERPROFILE") or "."
  local sep = WINDOWS and "\\" or "/"
  local folder = os.getenv("MONTAGE_BRIDGE_EXPORT_DIR") or (home .. sep .. "Montage Bridge Exports")
  os.execute((WINDOWS and "mkdir " or "mkdir -p ") .. quote(folder))
  local stem = tostring(timeline:GetName()):gsub("[^%w%-_ ]", "_")
  local ok_all = true
  for _, e in ipairs(EXPORTS) do
    local kind, sub = resolve[e[2]], e[3] and resolve[e[3]] or nil
    if kind == nil or (e[3] and sub == nil) then
      say(e[1] .. ": not available in this Resolve")
    else
      local target = folder .. sep .. stem .. e[4]
      local ok
      if e[3] then ok = timeline:Export(target, kind, sub) else ok = timeline:Export(target, kind) end
      -- Export can say yes without writing: trust only the file (a bundle folder for FCPXML 1.10).
      local written = file_exists(e[4] == ".fcpxmld" and (target .. sep .. "Info.fcpxml") or target)
      if ok and written then
        say(e[1] .. ": " .. target)
      else
        say(e[1] .. ": Resolve did not write " .. target)
        ok_all = false
      end
    end
  end
  return ok_all
end

local function gpu(resolve)
  local _, pool = project_and_pool(resolve)
  local clips = {}
  if has_method(pool, "GetSelectedClips") then clips = pool:GetSelectedClips() or {} end
  if count(clips) == 0 then clips = gather_bin(pool) end
  local files = {}
  for _, clip in ipairs(clips) do
    local path = clip:GetClipProperty("File Path")
    if path and path ~= "" then files[#files + 1] = path end
  end
  if #files == 0 then error("none of the chosen clips has a media file to send", 0) end
  local op = os.getenv("MONTAGE_BRIDGE_GPU_OP") or "stabilize"
  say("sending " .. #files .. " clip(s) to the GPU worker (" .. op .. ")")
  local args = { "gpu", "submit", op }
  for _, p in ipairs(files) do args[#args + 1] = p end
  local started, tail = run_cli(args)
  say(started and tail or "could not run montage-bridge")
  return started
end

local ACTIONS = { auto_edit = auto_edit, analyze = analyze, export = export, gpu = gpu }

-- ------------------------------------------------------------------ main

local function main()
  open_window()
  say(MB_TITLE .. " ...")
  local resolve = get_resolve()
  if not resolve then
    say("error: no Resolve object - run this from Workspace > Scripts inside DaVinci Resolve")
    close_window()
    return false
  end
  say("connected to " .. tostring(resolve:GetProductName()) .. " " .. tostring(resolve:GetVersionString()) .. " (lua)")
  local ok, result = pcall(ACTIONS[MB_ACTION], resolve)
  if not ok then
    say("error: " .. tostring(result))
    result = false
  end
  close_window()
  return result
end

MB_RESULT = main()
MB_LINES = lines -- what the entry reported, one line each (for whoever ran it)
