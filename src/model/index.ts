/**
 * The resfcn256 network: its one graph definition, weight files and the official-checkpoint import.
 * `file-node.js`, `tf-bundle.js` and `import-checkpoint.js` use Node's file system; browser code
 * imports `./resfcn.js` and `./weights.js` directly.
 */
export {
  RESFCN256, ARCHITECTURES, BN_EPSILON, BN_SUFFIXES, INT8_FLOAT_LAYERS, PRECISIONS, buildResfcnOnnx, checkConfig, convCosts, countParameters, decoderLayers, encoderBlocks,
  multiplyAdds, resfcnTensorSpecs, samePadding, type ActivationRanges, type Architecture, type GraphOptions, type Precision,
  type BnSuffix, type DecoderLayer, type EncoderBlock, type ResfcnConfig, type TensorRole, type TensorSpec, type WeightMap,
} from './resfcn.js';
export {
  MOBILE_INT8_FLOAT_LAYERS, mobilePlan, mobileTensorSpecs, type ConvCost, type InvertedResidual, type MobileDecoderStage, type MobilePlan,
} from './mobile.js';
export {
  MODEL_FORMAT, MODEL_FORMAT_VERSION, INT8_RANGES_KEY, DEFAULT_PRECISION_KEY, configFromMetadata, int8RangesFromMetadata, createRng, modelMetadata, parseModelFile, randomWeights,
  serializeModel, validateTensors,
  type ModelCard, type ModelWeights, type SerializeOptions,
} from './weights.js';
export { readModelFile, writeModelFile } from './file-node.js';
export { HalfTensorMap } from './tensor-map.js';
export { encodeModel, ProtoWriter, type OnnxAttribute, type OnnxGraph, type OnnxInitializer, type OnnxModelOptions, type OnnxNode, type OnnxValueInfo } from './onnx.js';
export {
  crc32c, maskCrc, unmaskCrc, parseBundleIndex, readTable, bundleDataPath, ProtoReader, TF_DTYPES, DT_FLOAT, TABLE_MAGIC,
  type BundleEntry, type BundleHeader, type BundleIndex,
} from './tf-bundle.js';
export {
  importCheckpoint, checkpointNameMap, isOptimizerVariable, tfShapeOf, transposeKernel, OFFICIAL_CARD,
  type ImportOptions,
} from './import-checkpoint.js';
