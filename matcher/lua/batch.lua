--  batch: run many operations in one script call, in order, so that the
--  per-call cost (command parsing, script lookup, Lua call set-up, reply)
--  is paid once for all the frames of one matcher wake-up.
--  ARGV: name1, n1, arg1_1 .. arg1_n1, name2, n2, arg2_1 .. : per op its
--  name (a key of OPS in lib.lua: "find", "leave", ...), its argument
--  count, then exactly the ARGV its own script (find.lua, ...) takes.
--  Returns one reply per op, in order: what its own script returns, or an
--  error element if it failed (a pcall per op: one bad op fails alone;
--  its writes before the failure stand, as they would in its own script).
--  A malformed ARGV (unknown name, count out of range) fails the whole
--  call before any op runs.
local ops = {}
local i, nargv = 1, #ARGV
while i <= nargv do
    local op, n = OPS[ARGV[i]], tonumber (ARGV[i + 1])
    if not op or not n or n < 0 or n % 1 ~= 0 or i + 1 + n > nargv then
        return redis.error_reply ('batch: malformed op at ARGV[' .. i .. ']')
    end
    local args = {}
    for k = 1, n do
        args[k] = ARGV[i + 1 + k]
    end
    ops[#ops + 1] = {op, args}
    i = i + 2 + n
end
local out = {}
for k, call in ipairs (ops) do
    local ok, reply = pcall (call[1], call[2])
    if ok and reply then
        out[k] = reply
    elseif ok then
        out[k] = {err = 'batch: op returned nothing'}
    elseif type (reply) == 'table' and reply.err then
        out[k] = {err = reply.err}
    else
        out[k] = {err = 'batch: ' .. tostring (reply)}
    end
end
return out
