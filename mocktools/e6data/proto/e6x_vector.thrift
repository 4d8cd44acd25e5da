// Result chunk format of the e6data engine (what getNextResultBatch carries), written for
// mocktools from the wire contract e6data-python-connector decodes: one Chunk per batch,
// serialized with the strict TBinaryProtocol. Field ids and types are the wire contract.
namespace py e6x_vector
namespace java io.e6x.engine.vector

enum VectorType {
  BINARY = 0,
  BOOLEAN = 1,
  DOUBLE = 2,
  FLOAT = 3,
  INT96 = 4,
  INTEGER = 5,
  LONG = 6,
  STRING = 7,
  DATE = 8,
  DATETIME = 9,
  TIMESTAMP = 10,
  STRUCT = 11,
  MAP = 12,
  ARRAY = 13,
  NULL = 14,
  TIMESTAMP_TZ = 15,
  DECIMAL128 = 16,
  INTERVAL_DAY_SECOND = 17
}

struct BoolData { 1: list<bool> data }
struct Int32Data { 1: list<i32> data }
struct Int64Data { 1: list<i64> data }
// Epoch microseconds.
struct DateData { 1: list<i64> data }
struct Float32Data { 1: list<double> data }
struct Float64Data { 1: list<double> data }
// Each entry: big-endian two's complement unscaled value (16 bytes), divided by 10^scale.
struct Decimal128Data { 1: list<binary> data, 2: i32 scale }
struct VarcharData { 1: list<string> data }
struct BoolConstantData { 1: bool data }
struct DateConstantData { 1: i64 data }
struct NullConstantData { 1: i8 data }
struct NumericConstantData { 1: i64 data }
struct NumericDecimalConstantData { 1: double data }
struct NumericDecimal128ConstantData { 1: binary data, 2: i32 scale }
struct TemporalIntervalConstantData { 1: i8 data }
struct TimeConstantData { 1: i64 data, 2: string zoneData }
struct VarcharConstantData { 1: string data }
// Epoch microseconds, with an optional zone per row (TIMESTAMP_TZ).
struct TimeData { 1: list<i64> data, 2: list<string> zoneData }

// Exactly one field is set, the one that matches the vector's type.
struct Data {
  1: BoolData boolData,
  2: Int32Data int32Data,
  3: Int64Data int64Data,
  4: DateData dateData,
  5: Float32Data float32Data,
  6: Float64Data float64Data,
  7: VarcharData varcharData,
  8: BoolConstantData boolConstantData,
  9: DateConstantData dateConstantData,
  10: NullConstantData nullConstantData,
  11: NumericConstantData numericConstantData,
  12: NumericDecimalConstantData numericDecimalConstantData,
  13: TemporalIntervalConstantData temporalIntervalConstantData,
  14: TimeConstantData timeConstantData,
  15: VarcharConstantData varcharConstantData,
  16: TimeData timeData,
  17: Decimal128Data decimal128Data,
  18: NumericDecimal128ConstantData numericDecimal128ConstantData
}

// One column of a chunk. nullSet[i] is true when row i is NULL (data keeps a placeholder).
struct Vector {
  1: i32 size,
  2: i32 vectorType,
  3: list<bool> nullSet,
  4: Data data,
  5: bool isConstantVector,
  6: string zoneOffset,
  7: string format
}

// One result batch: `size` rows, one vector per column in metadata order.
struct Chunk {
  1: i32 size,
  2: list<Vector> vectors
}
