// Image inputs: a model's config declares `preprocess` for a BYTES input; the gateway decodes the
// encoded images it carries (sharp, off the event loop) and fills the FP32 model input they feed.
export { imagePlan, imagePlans, resizedSize, type ImagePlan } from './image-plan.js';
export { imageFormat, type ImageFormat } from './image-format.js';
export { decodeImage, readImageHeader, type DecodedImage, type ImageHeader } from './decode.js';
export { DecodeBudget } from './decode-budget.js';
export { imagesToTensor, writeImageTensor, type ImageTensor } from './image-tensor.js';
export { imageElement } from './image-element.js';
export { imageBodyInputs, imageInputName, imagePreprocessor, plansFor, type Preprocessor } from './preprocessor.js';
