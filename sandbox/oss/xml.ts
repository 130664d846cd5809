/**
 * The XML OSS speaks: rendering of answers, and a deliberately small reader for the two request bodies the emulator
 * accepts (CompleteMultipartUpload, DeleteMultipleObjects). Those bodies are flat and machine-written, so element
 * extraction is enough; anything unexpected is MalformedXML, as the service answers.
 */
import { ossErrors } from './errors';

/** An element: a name and either text or child elements. */
export type XmlNode = readonly [name: string, content: string | number | boolean | readonly XmlNode[]];

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_match, entity: string) => {
    switch (entity) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return String.fromCodePoint(
          entity.startsWith('#x') ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10),
        );
    }
  });
}

function renderNode([name, content]: XmlNode): string {
  if (Array.isArray(content)) {
    return `<${name}>${(content as readonly XmlNode[]).map(renderNode).join('')}</${name}>`;
  }
  return `<${name}>${escapeXml(String(content))}</${name}>`;
}

export function xmlDocument(root: XmlNode): string {
  return XML_DECLARATION + renderNode(root);
}

export function errorXml(code: string, message: string, requestId: string, hostId: string, details: Record<string, string>): string {
  const children: XmlNode[] = [
    ['Code', code],
    ['Message', message],
    ['RequestId', requestId],
    ['HostId', hostId],
    ...Object.entries(details).map(([name, value]): XmlNode => [name, value]),
  ];
  return xmlDocument(['Error', children]);
}

/** Text of every `<name>...</name>` directly found in `xml`, unescaped. */
function elementTexts(xml: string, name: string): string[] {
  const pattern = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>`, 'g');
  return [...xml.matchAll(pattern)].map((match) => match[1]);
}

function requireRoot(xml: string, root: string): string {
  const bodies = elementTexts(xml, root);
  if (bodies.length !== 1) throw ossErrors.malformedXml();
  return bodies[0];
}

export interface CompletePartRef {
  partNumber: number;
  etag: string;
}

export function parseCompleteMultipartUpload(xml: string): CompletePartRef[] {
  const body = requireRoot(xml, 'CompleteMultipartUpload');
  return elementTexts(body, 'Part').map((part) => {
    const numbers = elementTexts(part, 'PartNumber');
    const etags = elementTexts(part, 'ETag');
    if (numbers.length !== 1 || etags.length !== 1) throw ossErrors.malformedXml();
    const partNumber = Number(numbers[0].trim());
    if (!Number.isInteger(partNumber)) throw ossErrors.malformedXml();
    return { partNumber, etag: unescapeXml(etags[0].trim()) };
  });
}

export interface DeleteRequest {
  quiet: boolean;
  keys: string[];
}

export function parseDeleteMultipleObjects(xml: string): DeleteRequest {
  const body = requireRoot(xml, 'Delete');
  const quiet = elementTexts(body, 'Quiet').some((text) => text.trim().toLowerCase() === 'true');
  const keys = elementTexts(body, 'Object').map((object) => {
    const key = elementTexts(object, 'Key');
    if (key.length !== 1) throw ossErrors.malformedXml();
    return unescapeXml(key[0]);
  });
  if (keys.length === 0 || keys.length > 1000) throw ossErrors.malformedXml();
  return { quiet, keys };
}
