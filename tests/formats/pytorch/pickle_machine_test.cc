// The restricted unpickler: the opcodes torch uses, the allow-list, and the limits that keep
// hostile pickles from exhausting memory.
#include "indexer/formats/pytorch/internal/pickle_machine.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/formats/pytorch/format_writers.h"

namespace weightprint::indexer::internal {
namespace {

using ::testing::HasSubstr;
using ::weightprint::testing::PickleWriter;

absl::StatusOr<PickleGraph> RunPickle(const std::string& bytes, const PickleLimits& limits = {}) {
  return Unpickle(bytes, "p.pkl", 100, limits);
}

TEST(PickleMachine, BuildsContainersAndScalars) {
  PickleWriter w;
  w.Proto(2).EmptyDict().Put(0).Mark();
  w.Str("i").Int(-5).Str("big").Int(1ll << 40).Str("b").Bool(true).Str("n").None();
  w.Str("t").IntTuple({1, 2, 3}).Str("l").EmptyList().Mark().Int(7).Int(8).Appends();
  w.Str("bytes").Bytes("xy").Str("again").Get(0);
  w.SetItems().Stop();
  absl::StatusOr<PickleGraph> g = RunPickle(w.bytes());
  ASSERT_TRUE(g.ok()) << g.status();
  const PickleObject& root = g->at(g->root);
  ASSERT_EQ(root.kind, PickleKind::kDict);
  ASSERT_EQ(root.pairs.size(), 8u);
  EXPECT_EQ(g->at(root.pairs[0].second).integer, -5);
  EXPECT_EQ(g->at(root.pairs[1].second).integer, 1ll << 40);
  EXPECT_TRUE(g->at(root.pairs[2].second).boolean);
  EXPECT_EQ(g->at(root.pairs[3].second).kind, PickleKind::kNone);
  EXPECT_EQ(g->at(root.pairs[4].second).items.size(), 3u);
  EXPECT_EQ(g->at(root.pairs[5].second).items.size(), 2u);
  EXPECT_EQ(g->at(root.pairs[6].second).text, "xy");
  EXPECT_EQ(root.pairs[7].second, g->root);  // memo: the dict contains itself
  EXPECT_EQ(g->end_offset, 100 + w.bytes().size());
}

TEST(PickleMachine, ProtocolFourOpcodes) {
  // SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL, FRAME, TUPLE2, NEWOBJ, BUILD.
  std::string p = "\x80\x04\x95";
  p += std::string("\x20\0\0\0\0\0\0\0", 8);
  p += "\x8c\x0b__torch__.M\x94\x8c\x01M\x94\x93\x94)\x81\x94}\x94(\x8c\x01w\x94K\x01u";
  p += "b.";
  absl::StatusOr<PickleGraph> g = RunPickle(p);
  ASSERT_TRUE(g.ok()) << g.status();
  const PickleObject& root = g->at(g->root);
  ASSERT_EQ(root.kind, PickleKind::kObject);
  EXPECT_EQ(g->at(root.callable).text, "__torch__.M.M");
  EXPECT_EQ(g->at(root.callable).meaning.role, GlobalRole::kOpaque);
  ASSERT_TRUE(root.state.has_value());
  EXPECT_EQ(g->at(*root.state).pairs.size(), 1u);
}

TEST(PickleMachine, AllowListClassifiesTorchGlobals) {
  EXPECT_EQ(ClassifyGlobal("torch._utils", "_rebuild_tensor_v2").role,
            GlobalRole::kRebuildTensorV2);
  EXPECT_EQ(ClassifyGlobal("torch", "BFloat16Storage").dtype, DType::kBF16);
  EXPECT_EQ(ClassifyGlobal("torch", "float16").dtype, DType::kF16);
  EXPECT_EQ(ClassifyGlobal("collections", "OrderedDict").role, GlobalRole::kOrderedDict);
  EXPECT_EQ(ClassifyGlobal("os", "system").role, GlobalRole::kOpaque);
  EXPECT_EQ(ClassifyGlobal("builtins", "eval").role, GlobalRole::kOpaque);
  EXPECT_EQ(ClassifyGlobal("torch", "load").role, GlobalRole::kOpaque);
  EXPECT_FALSE(ClassifyGlobal("torch", "ComplexFloatStorage").dtype.has_value());
}

TEST(PickleMachine, DangerousCallsAreOnlyRecorded) {
  PickleWriter w;
  w.Proto(2).Global("os", "system").Mark().Str("touch /tmp/never").Tuple().Reduce().Stop();
  absl::StatusOr<PickleGraph> g = RunPickle(w.bytes());
  ASSERT_TRUE(g.ok()) << g.status();
  const PickleObject& root = g->at(g->root);
  EXPECT_EQ(root.kind, PickleKind::kObject);
  EXPECT_EQ(g->at(root.callable).text, "os.system");
  EXPECT_EQ(g->at(g->at(root.args).items[0]).text, "touch /tmp/never");
}

TEST(PickleMachine, LegacyBytesAndMagic) {
  // protocol 2 writes bytes as _codecs.encode(text, 'latin1'), and the legacy magic as LONG1.
  PickleWriter w;
  w.Proto(2)
      .Global("_codecs", "encode")
      .Mark()
      .Str(
          "\xc3\xbf"
          "a")
      .Str("latin1")
      .Tuple();
  w.Reduce().Stop();
  absl::StatusOr<PickleGraph> g = RunPickle(w.bytes());
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->at(g->root).kind, PickleKind::kBytes);
  EXPECT_EQ(g->at(g->root).text,
            "\xff"
            "a");
  g = RunPickle(std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->at(g->root).kind, PickleKind::kBigInt);
  g = RunPickle(std::string("\x80\x02\x8a\x02\xff\xff.", 7));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->at(g->root).integer, -1);
}

void ExpectError(const absl::StatusOr<PickleGraph>& g, const std::string& offset,
                 const std::string& what) {
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(),
              HasSubstr("p.pkl: offset " + (offset.empty() ? "" : offset + ": ")))
      << g.status();
  EXPECT_THAT(g.status().message(), HasSubstr(what)) << g.status();
}

TEST(PickleMachine, MalformedStreamsNameTheOffset) {
  ExpectError(RunPickle(""), "100", "ends before STOP");
  ExpectError(RunPickle("\x80\x02"), "102", "ends before STOP");
  ExpectError(RunPickle("\x80\x09."), "100", "protocol 2 to 5");
  ExpectError(RunPickle("\x80\x02I1\n."), "102", "unsupported pickle opcode 0x49");
  ExpectError(RunPickle("\x80\x02h\x05."), "102", "memo entry 5");
  ExpectError(RunPickle("\x80\x02R."), "102", "expected an argument tuple");
  ExpectError(RunPickle("\x80\x02K\x01K\x02."), "106", "exactly one value");
  ExpectError(RunPickle("\x80\x02(."), "103", "exactly one value");
  ExpectError(RunPickle("\x80\x02t."), "102", "MARK");
  ExpectError(RunPickle("\x80\x02K\x01"
                        "a."),
              "104", "list to APPEND");
  ExpectError(RunPickle(std::string("\x80\x02X\xff\xff\xff\x7f"
                                    "abc.",
                                    11)),
              "107", "bytes of string");
  // BINUNICODE8 declaring 2^63 bytes.
  ExpectError(RunPickle(std::string("\x80\x04\x8d\0\0\0\0\0\0\0\x80.", 12)), "111",
              "bytes of string");
  ExpectError(RunPickle(std::string("\x80\x02\x8b\0\0\0\x10.", 8)), "102", "long integer of");
  ExpectError(RunPickle("\x80\x02]K\x01s."), "105", "SETITEM");
  ExpectError(RunPickle("\x80\x02"
                        "cos\nsystem"),
              "106", "newline");
  ExpectError(RunPickle("\x80\x02K\x01)b."), "105", "BUILD");
}

TEST(PickleMachine, LimitsBoundHostilePickles) {
  // A stack bomb: a million MARKs.
  ExpectError(RunPickle("\x80\x02" + std::string(2'000'000, '(') + "."), "", "stack deeper");
  // A memo bomb through LONG_BINPUT at many distinct indices, under a small memo limit.
  PickleLimits small;
  small.max_memo = 100;
  PickleWriter w;
  w.Proto(2).None();
  for (uint32_t i = 0; i < 1000; ++i) w.Put(1000 + i * 7919);
  w.Stop();
  ExpectError(RunPickle(w.bytes(), small), "", "memo larger than 100");
  // A container bomb: repeated APPENDS of a memoized element.
  small = {};
  small.max_container = 1000;
  PickleWriter c;
  c.Proto(2).EmptyList().Put(0).None().Put(1).Op('0');
  for (int i = 0; i < 2000; ++i) c.Get(1).Op('a');
  c.Stop();
  ExpectError(RunPickle(c.bytes(), small), "", "container of more than 1000");
  // Objects are capped by the input size as well as the limit.
  small = {};
  small.max_objects = 50;
  PickleWriter o;
  o.Proto(2).EmptyList();
  for (int i = 0; i < 100; ++i) o.None().Op('a');
  o.Stop();
  ExpectError(RunPickle(o.bytes(), small), "", "more than 50 objects");
}

}  // namespace
}  // namespace weightprint::indexer::internal
