#!/usr/bin/python3
"""script_libs_golden.py - writes tests/unit/script_libs_golden.h: what redis-server 7.0.15
answers to `redis-cli eval "<PRELUDE> return <case>" 0` for each case below, the oracle
test_script_libs.c checks server/script/ (cjson, bit, struct, cmsgpack, math.random)
against. Run with a redis-server 7.0 listening on the port given as the first argument
(e.g. redis-server --port 7719 --save "" --appendonly no); every case returns a string
(hex bytes H(...), values joined by J(...)), so Redis's reply conversion changes nothing.
"""
import subprocess
import sys

PRELUDE = ("local function H(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end "
           "local function J(...) local o = {} for i = 1, select('#', ...) do o[#o + 1] = tostring((select(i, ...))) end return table.concat(o, '|') end")

CASES = [
    ('struct_native_ints',
     "H(struct.pack('bBhHlLT', -1, 255, -2, 65535, -3, 4, 5))"),
    ('struct_int_sizes_big_endian',
     "H(struct.pack('>i1i2i3i4i5i6i7i8', 1, 2, 3, 4, 5, 6, 7, 8))"),
    ('struct_wide_ints',
     "H(struct.pack('>i16', -1)) .. ' ' .. H(struct.pack('<I16', 1)) .. ' ' .. H(struct.pack('i9', 1)) .. ' ' .. H(struct.pack('i0', 1))"),
    ('struct_floats',
     "H(struct.pack('>fd', 1.5, 0.1)) .. ' ' .. H(struct.pack('<f', -1/0)) .. ' ' .. H(struct.pack('>f', 1e300))"),
    ('struct_strings',
     "H(struct.pack('sxs', 'ab', 'c')) .. ' ' .. H(struct.pack('c3c', 'abcdef', 'xyz')) .. ' ' .. H(struct.pack('c0', 'hello')) .. ' ' .. H(struct.pack('s', 'a\\0b')) .. ' ' .. H(struct.pack('c2', 12))"),
    ('struct_alignment',
     "H(struct.pack('!4 b i b h d', 1, 2, 3, 4, 5)) .. ' ' .. H(struct.pack('! b d', 1, 2)) .. ' ' .. H(struct.pack('!2 b i', 1, 2)) .. ' ' .. H(struct.pack('!4 b s c2 h', 1, 'x', 'ab', 3)) .. ' ' .. H(struct.pack('>!8 b x d', 1, 2))"),
    ('struct_number_conversion',
     "H(struct.pack('B', 256)) .. ' ' .. H(struct.pack('b', 200)) .. ' ' .. H(struct.pack('B', -1)) .. ' ' .. H(struct.pack('B', 1.9)) .. ' ' .. H(struct.pack('i', 2^40)) .. ' ' .. H(struct.pack('>I', -1.5)) .. ' ' .. H(struct.pack('i', '12'))"),
    ('struct_out_of_range',
     "H(struct.pack('>I8', 2^64)) .. ' ' .. H(struct.pack('>i8', -2^63)) .. ' ' .. H(struct.pack('>i8', 1.5*2^63)) .. ' ' .. H(struct.pack('>I8', 0/0)) .. ' ' .. H(struct.pack('>i8', -1e30)) .. ' ' .. H(struct.pack('>I8', 1/0)) .. ' ' .. H(struct.pack('>I4', 2^32+5))"),
    ('struct_unpack_ints',
     "J(struct.unpack('>i2', '\\1\\2')) .. ' ' .. J(struct.unpack('<i2', '\\255\\255')) .. ' ' .. J(struct.unpack('<I2', '\\255\\255')) .. ' ' .. J(struct.unpack('<i3', '\\255\\255\\255')) .. ' ' .. J(struct.unpack('<I8', string.rep('\\255', 8))) .. ' ' .. J(struct.unpack('<b', '\\128'))"),
    ('struct_unpack_wide_ints',
     "J(struct.unpack('<i9', string.rep('\\255', 9))) .. ' ' .. J(struct.unpack('<i9', '\\1\\0\\0\\0\\0\\0\\0\\0\\1')) .. ' ' .. J(struct.unpack('>i12', '\\0\\0\\0\\0\\128\\0\\0\\0\\0\\0\\0\\0')) .. ' ' .. J(struct.unpack('>i16', string.rep('\\0', 8) .. '\\128' .. string.rep('\\0', 7))) .. ' ' .. J(struct.unpack('>i5', '\\128\\0\\0\\0\\0')) .. ' ' .. J(struct.unpack('i0', 'abc'))"),
    ('struct_unpack_strings',
     "J(struct.unpack('sbs', 'ab\\0\\5c\\0')) .. ' ' .. J(struct.unpack('Bc0', '\\3abcd')) .. ' ' .. J(struct.unpack('c2c1', 'abc')) .. ' ' .. J(struct.unpack('sc0', '5\\0xyzab')) .. ' ' .. J(struct.unpack('>hc0', '\\0\\2abc'))"),
    ('struct_unpack_offsets',
     "J(struct.unpack('i', struct.pack('ii', 7, 8), 5)) .. ' ' .. J(struct.unpack('!4 b i', '\\1\\0\\0\\0\\2\\0\\0\\0\\3\\0\\0\\0', 2)) .. ' ' .. J(struct.unpack('!4 i', 'x\\1\\0\\0\\0\\2\\0\\0\\0', 2)) .. ' ' .. J(struct.unpack('', 'abc', 5)) .. ' ' .. J(struct.unpack('c3', 'abc', 1.9))"),
    ('struct_unpack_floats',
     "J(struct.unpack('>f', struct.pack('>f', 0.1))) .. ' ' .. J(struct.unpack('>d', struct.pack('>d', 0.1))) .. ' ' .. J(struct.unpack('f', '\\0\\0\\0\\0\\0'))"),
    ('struct_size',
     "J(struct.size('!4 b i'), struct.size('bhilTfd'), struct.size('c5'), struct.size('>x i3'), struct.size(''), struct.size('c'), struct.size('q'), struct.size('i 4'))"),
    ('struct_size_alignment',
     "J(struct.size('!8 b d c3 i'), struct.size('!8 b i3'), struct.size('!8 b i6'), struct.size('!4 b i6'), struct.size('!2 b h b i b d b x'), struct.size('!8 b T b l b L b f'), struct.size('!4 !8 b d'), struct.size('!1024 b i32'))"),
    ('struct_errors_format',
     "J(pcall(struct.pack, 'i33', 1)) .. ' ' .. J(pcall(struct.pack, 'q', 1)) .. ' ' .. J(pcall(struct.pack, '=i', 1)) .. ' ' .. J(pcall(struct.pack, '!3 b', 1)) .. ' ' .. J(pcall(struct.pack, '!0 i', 1)) .. ' ' .. J(pcall(struct.pack, 'c99999999999', 'a')) .. ' ' .. J(pcall(struct.pack, 'i 4', 1))"),
    ('struct_errors_arguments',
     "J(pcall(struct.pack, 'i', 'x')) .. ' ' .. J(pcall(struct.pack, 'ii', 1)) .. ' ' .. J(pcall(struct.pack, 'c3', 'a')) .. ' ' .. J(pcall(struct.pack, 'ic3', 1)) .. ' ' .. J(pcall(struct.pack)) .. ' ' .. J(pcall(struct.pack, 'is', 1, {}))"),
    ('struct_errors_unpack',
     "J(pcall(struct.unpack, '<i4', '\\1\\2')) .. ' ' .. J(pcall(struct.unpack, 's', 'abc')) .. ' ' .. J(pcall(struct.unpack, 'c0', 'abcd')) .. ' ' .. J(pcall(struct.unpack, 'i', 'abcdefgh', 0)) .. ' ' .. J(pcall(struct.unpack, 'i', 'abcdefgh', -3)) .. ' ' .. J(pcall(struct.unpack, 'bc0', '\\255abc')) .. ' ' .. J(pcall(struct.unpack, ' ', 'abc', 5)) .. ' ' .. J(pcall(struct.unpack, 'b'))"),
    ('struct_errors_size',
     "J(pcall(struct.size, 's')) .. ' ' .. J(pcall(struct.size, 'c0')) .. ' ' .. J(pcall(struct.size, '!3 b')) .. ' ' .. J(pcall(struct.size, '!2147483648'))"),
    ('struct_too_many_results',
     "J(pcall(struct.unpack, string.rep('b', 9000), string.rep('a', 9000)))"),
    ('msgpack_integers',
     'H(cmsgpack.pack(0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, -1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649))'),
    ('msgpack_floats',
     'H(cmsgpack.pack(0.5, 0.1, -0.0, 1/0, -1/0, 0/0, 1e300, 2^63, -2^63, 2^64, 1.5e10, 3.4e38, 2^53+1))'),
    ('msgpack_more_numbers',
     'H(cmsgpack.pack(-0.5, 1e-300, 2^31, -2^31, 2^32, -2^32-1, 9007199254740993, -9.2233720368547758e18))'),
    ('msgpack_scalars_strings',
     "H(cmsgpack.pack(true, false, nil, 'a', string.rep('x',31), string.rep('x',32)))"),
    ('msgpack_string_lengths',
     "H(cmsgpack.pack(string.rep('x',255)):sub(1,10)) .. ' ' .. H(cmsgpack.pack(string.rep('x',256)):sub(1,10)) .. ' ' .. H(cmsgpack.pack(string.rep('x',65536)):sub(1,12))"),
    ('msgpack_tables',
     'H(cmsgpack.pack({}, {1,2,3}, {a=1}, {[1]=1,[3]=3}, {[0]=1}, {[1.5]=2}, {1,2,nil,4}, {[2]=1, [1]=2}))'),
    ('msgpack_map_order',
     "H(cmsgpack.pack({x=1,y=2,z=3,w=4,abc='d',[10]=5}))"),
    ('msgpack_big_containers',
     "H(cmsgpack.pack({1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16}):sub(1,8)) .. ' ' .. (function() local t={} for i=1,70000 do t[i]=i%2==0 end return H(cmsgpack.pack(t):sub(1,8)) end)() .. ' ' .. (function() local t={} for i=1,17 do t['k'..i]=1 end return H(cmsgpack.pack(t):sub(1,4)) end)() .. ' ' .. (function() local t={} for i=1,70000 do t['k'..i]=1 end return H(cmsgpack.pack(t):sub(1,6)) end)()"),
    ('msgpack_nesting_limit',
     "(function() local t={} local c=t for i=1,20 do c[1]={} c=c[1] end local m={} c=m for i=1,20 do c.k={} c=c.k end local a={} a[1]=a return H(cmsgpack.pack(t)) .. ' ' .. H(cmsgpack.pack(m)) .. ' ' .. H(cmsgpack.pack(a)) end)()"),
    ('msgpack_untyped_values',
     'H(cmsgpack.pack(function() end, coroutine.create(function() end), cjson.null, setmetatable({}, {__index=function() return 1 end})))'),
    ('msgpack_pack_errors',
     'J(pcall(cmsgpack.pack))'),
    ('msgpack_unpack_values',
     "J(cmsgpack.unpack(string.char(0x01,0xa1,0x41,0xc3,0xc2,0xc0,0xff,0xd0,0x80,0xd1,0x80,0,0xd2,0x80,0,0,0,0xd9,0x02,0x41,0x42))) .. ' ' .. J(cmsgpack.unpack('')) .. ' ' .. J(cmsgpack.unpack(12))"),
    ('msgpack_unpack_numbers',
     'J(cmsgpack.unpack(string.char(0xca,0x3f,0xc0,0,0, 0xcb,0x3f,0xb9,0x99,0x99,0x99,0x99,0x99,0x9a, 0xcf,0xff,0xff,0xff,0xff,0xff,0xff,0xff,0xff, 0xd3,0x80,0,0,0,0,0,0,0, 0xce,0xff,0xff,0xff,0xff)))'),
    ('msgpack_unpack_tables',
     '(function() local t = cmsgpack.unpack(string.char(0x93,0x01,0xc0,0x03)) local m = cmsgpack.unpack(string.char(0x82,0xa1,0x61,0x01,0xa1,0x61,0x02)) local k = cmsgpack.unpack(string.char(0x81,0x01,0x02)) return J(#t, t[1], t[2], t[3], m.a, k[1]) end)()'),
    ('msgpack_unpack_errors',
     "J(pcall(cmsgpack.unpack, string.char(0xcd,0x01))) .. ' ' .. J(pcall(cmsgpack.unpack, string.char(0xc1))) .. ' ' .. J(pcall(cmsgpack.unpack, string.char(0x92,0x01))) .. ' ' .. J(pcall(cmsgpack.unpack, string.char(0xc4,0x02,0x41,0x42))) .. ' ' .. J(pcall(cmsgpack.unpack, string.char(0xd4,0x01,0x41))) .. ' ' .. J(pcall(cmsgpack.unpack, string.char(0x93,0xc1,0xcd,0x01))) .. ' ' .. J(pcall(cmsgpack.unpack, string.char(0xdd, 0xff, 0xff, 0xff, 0xff))) .. ' ' .. J(pcall(cmsgpack.unpack, string.char(0xa3, 0x41))) .. ' ' .. J(pcall(cmsgpack.unpack))"),
    ('msgpack_unpack_bad_keys',
     "J(pcall(cmsgpack.unpack, string.char(0x81,0xc0,0x02))) .. ' ' .. J(pcall(cmsgpack.unpack, string.char(0x81,0xca,0x7f,0xc0,0,0,0x01)))"),
    ('msgpack_unpack_one',
     "J(cmsgpack.unpack_one(cmsgpack.pack(1,2,3))) .. ' ' .. J(cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 2)) .. ' ' .. J(cmsgpack.unpack_one(cmsgpack.pack(1))) .. ' ' .. J(cmsgpack.unpack_one(cmsgpack.pack(1), 1)) .. ' ' .. J(pcall(cmsgpack.unpack_one, cmsgpack.pack(1), 2)) .. ' ' .. J(pcall(cmsgpack.unpack_one, cmsgpack.pack(1), -1))"),
    ('msgpack_unpack_limit',
     "J(cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 2)) .. ' ' .. J(cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 0)) .. ' ' .. J(cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 5)) .. ' ' .. J(cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 0, 1)) .. ' ' .. J(cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 1.7, 1.9)) .. ' ' .. J(cmsgpack.unpack_limit(string.char(0x01, 0xc1), 1)) .. ' ' .. J(pcall(cmsgpack.unpack_limit, cmsgpack.pack(1,2,3), -1)) .. ' ' .. J(pcall(cmsgpack.unpack_limit, cmsgpack.pack(1,2,3), 'x'))"),
    ('msgpack_stack_limits',
     "J((pcall(cmsgpack.unpack, string.rep(string.char(0x91), 3999) .. string.char(1)))) .. ' ' .. J(pcall(cmsgpack.unpack, string.rep(string.char(0x91), 3999) .. string.char(0x90))) .. ' ' .. J((pcall(cmsgpack.unpack, string.rep(string.char(0x81,0x01), 3999) .. string.char(0x80)))) .. ' ' .. J(pcall(cmsgpack.unpack, string.rep(string.char(0x81,0x01), 4000) .. string.char(0x01))) .. ' ' .. J(select('#', cmsgpack.unpack(string.rep(string.char(1), 7999)))) .. ' ' .. J(pcall(cmsgpack.unpack, string.rep(string.char(1), 8000))) .. ' ' .. J(pcall(cmsgpack.unpack_limit, string.rep(string.char(1), 7999), 7999)) .. ' ' .. J(select('#', cmsgpack.unpack_limit(string.rep(string.char(1), 7999), 7998)))"),
    ('msgpack_round_trip',
     "(function() local v = {a={1,2,{b='c'}}, n=-1.5, s=string.rep('z', 300), t=true} local u = cmsgpack.unpack(cmsgpack.pack(v)) return J(u.a[1], u.a[2], u.a[3].b, u.n, #u.s, u.t, H(cmsgpack.pack(u)) == H(cmsgpack.pack(v))) end)()"),
    ('msgpack_fields',
     'J(cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION)'),
    ('cjson_encode',
     "cjson.encode({1,2,3}) .. ' ' .. cjson.encode({a=1}) .. ' ' .. cjson.encode({}) .. ' ' .. cjson.encode({[1]=1, [2]=2, [4]=4}) .. ' ' .. cjson.encode({['1']=1, [2]=2}) .. ' ' .. cjson.encode({cjson.null, true, false})"),
    ('cjson_encode_numbers',
     'J(cjson.encode(0.1), cjson.encode(1/3), cjson.encode(1e100), cjson.encode(12345678901234567890), cjson.encode(-0.0), cjson.encode(2^53), cjson.encode(123456789012), cjson.encode(100))'),
    ('cjson_encode_strings',
     'cjson.encode(\'a"b\\\\c/d\\n\\r\\t\\1\\127\') .. \' \' .. cjson.encode(\'\\0\') .. \' \' .. #cjson.encode(string.rep(\'\\200\', 10))'),
    ('cjson_encode_errors',
     "J(pcall(cjson.encode, 0/0)) .. ' ' .. J(pcall(cjson.encode, {[1]=1, [11]=5})) .. ' ' .. J(pcall(cjson.encode, function() end)) .. ' ' .. J(pcall(cjson.encode, {[true]=1})) .. ' ' .. J(pcall(cjson.encode)) .. ' ' .. (function() local a={} a[1]=a return J(pcall(cjson.encode, a)) end)()"),
    ('cjson_decode',
     'J(cjson.decode(\'12345678901234567890\'), cjson.decode(\'1e400\'), cjson.decode(\'-0\'), cjson.decode(\'0x10\'), cjson.decode(\'Infinity\'), cjson.decode(\'-1.5e-3\'), cjson.decode(\'"\\\\u00e9\\\\ud83d\\\\ude00"\'), cjson.decode(\'null\') == cjson.null, type(cjson.decode(\'[null]\')[1]), cjson.decode(\'{"a":[1,2,{"b":null}]}\').a[2])'),
    ('cjson_decode_errors',
     'J(pcall(cjson.decode, \'[1,2\')) .. \' \' .. J(pcall(cjson.decode, \'\')) .. \' \' .. J(pcall(cjson.decode, \'[1] x\')) .. \' \' .. J(pcall(cjson.decode, \'"\\\\ud83d"\')) .. \' \' .. J(pcall(cjson.decode, \'{"a":1,}\')) .. \' \' .. J(pcall(cjson.decode, \'01\')) .. \' \' .. J(pcall(cjson.decode, \'nan\')) .. \' \' .. J(pcall(cjson.decode))'),
    ('cjson_depth',
     "J(pcall(cjson.decode, string.rep('[', 1001) .. string.rep(']', 1001))) .. ' ' .. J((pcall(cjson.decode, string.rep('[', 1000) .. string.rep(']', 1000)))) .. ' ' .. J(pcall(cjson.decode, string.rep('[', 100000))) .. ' ' .. (function() local t={} local c=t for i=1,1001 do c[1]={} c=c[1] end return J(pcall(cjson.encode, t)) end)()"),
    ('cjson_settings',
     "J(cjson.encode_keep_buffer(), cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision(), cjson.encode_invalid_numbers(), cjson.decode_invalid_numbers(), cjson.encode_sparse_array()) .. ' ' .. J(cjson._NAME, cjson._VERSION, type(cjson.decode_array_with_array_mt), type(cjson.new))"),
    ('bit_ops',
     "J(bit.tobit(0xffffffff), bit.tohex(-1), bit.tohex(255, -4), bit.band(0xff0f, 0x0ff0), bit.bor(1,2,4,8,16,32,64,128), bit.bxor(5,3), bit.bnot(0), bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.tohex(bit.bswap(0x12345678)), bit.tobit(2^32+5)) .. ' ' .. J(pcall(bit.band, 'x'))"),
    ('random_seeded',
     "(function() math.randomseed(42) local a, b = math.random(1000000), math.random() math.randomseed(0) pcall(math.random, 0) local c = math.random(1000000) math.randomseed(2^40) local d = math.random(1000) math.randomseed(-7.9) local e = math.random(1000) math.randomseed('10') return J(a, b, c, d, e, math.random(3, 5), math.random(-10, -5)) end)()"),
    ('random_errors',
     "J(pcall(math.random, 0)) .. ' ' .. J(pcall(math.random, 5, 3)) .. ' ' .. J(pcall(math.random, 1, 2, 3)) .. ' ' .. J(pcall(math.random, 'x')) .. ' ' .. J(pcall(math.randomseed))"),
    ('libs_fields',
     "(function() local o = {} for _, name in ipairs({'cjson', 'bit', 'struct', 'cmsgpack', 'math'}) do local t = {} for k, v in pairs(_G[name]) do t[#t + 1] = k .. ':' .. type(v) end table.sort(t) o[#o + 1] = name .. '=' .. table.concat(t, ',') end return table.concat(o, ' ') end)()"),
]


def cstr(b):
    out = '"'
    for c in b:
        ch = chr(c)
        out += ch if 32 <= c < 127 and ch not in '"\\?' else "\\%03o" % c
    return out + '"'


def main():
    port = sys.argv[1]
    rows = []
    for name, expr in CASES:
        r = subprocess.run(["redis-cli", "-p", port, "eval", PRELUDE + " return " + expr, "0"],
                           capture_output=True, check=True)
        val = r.stdout[:-1] if r.stdout.endswith(b"\n") else r.stdout
        if val.startswith(b"ERR"):
            sys.exit("%s: %s" % (name, val.decode("latin1")))
        rows.append("    {%s,\n     %s,\n     %s}," % (cstr(name.encode()), cstr(expr.encode()), cstr(val)))
    with open("tests/unit/script_libs_golden.h", "w") as f:
        f.write("/* Generated by tests/unit/script_libs_golden.py from redis-server 7.0.15: do not edit. */\n")
        f.write("static const char script_libs_prelude[] =\n    %s;\n\n" % cstr(PRELUDE.encode()))
        f.write("static const struct {\n    const char *name, *expr, *redis;\n} script_libs_golden[] = {\n")
        f.write("\n".join(rows) + "\n};\n")


if __name__ == "__main__":
    main()
