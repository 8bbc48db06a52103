// Conversions between the known-constant types (registry/provenance/known_constants.h,
// registry/provenance/provenance_report.h) and their weightprint.v1 messages. Pure functions.
#ifndef WEIGHTPRINT_REGISTRY_CONSTANT_CODEC_H_
#define WEIGHTPRINT_REGISTRY_CONSTANT_CODEC_H_

#include "registry/provenance/known_constant.h"
#include "registry/provenance/provenance_report.h"
#include "weightprint/v1/registry.pb.h"

namespace weightprint::registry {

void ToProto(const KnownConstant& in, v1::KnownConstant* out);
KnownConstant FromProto(const v1::KnownConstant& in);
void ToProto(const SharedConstant& in, v1::SharedConstant* out);
SharedConstant FromProto(const v1::SharedConstant& in);
void ToProto(const ConstantLink& in, v1::ConstantLink* out);
ConstantLink FromProto(const v1::ConstantLink& in);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_CONSTANT_CODEC_H_
